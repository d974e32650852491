import { describe, expect, it } from 'vitest';
import { boundaryOf, parseMultipart } from '../../src/ingest/multipart.js';

const LIMITS = { maxParts: 32, maxHeaderBytes: 1024 };
const body = (parts: string[], boundary = 'XyZ') => Buffer.from(`preamble\r\n${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('')}--${boundary}--\r\n`, 'latin1');

describe('multipart parser', () => {
  it('splits fields and files, quoted or bare names, in order, duplicates included', () => {
    const parts = parseMultipart(
      body([
        'Content-Disposition: form-data; name="label"\r\n\r\nsite "A"',
        'Content-Disposition: form-data; name=key\r\n\r\ncam-1',
        'content-disposition: form-data; name="file"; filename="a\\"b.jpg"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\r\n--not-the-boundary',
        'Content-Disposition: form-data; name="label"\r\n\r\nsecond',
        'Content-Disposition: form-data; name="filename"\r\n\r\na field called filename',
        '\r\nno headers at all',
      ]),
      'XyZ',
      LIMITS,
    );
    expect(parts.map((p) => [p.name, p.filename, p.value.toString('latin1')])).toEqual([
      ['label', null, 'site "A"'],
      ['key', null, 'cam-1'],
      ['file', 'a"b.jpg', '\xff\xd8\xff\r\n--not-the-boundary'],
      ['label', null, 'second'],
      ['filename', null, 'a field called filename'],
      [null, null, 'no headers at all'],
    ]);
  });

  it('keeps a value that contains the boundary not preceded by CRLF', () => {
    const [p] = parseMultipart(body(['Content-Disposition: form-data; name="a"\r\n\r\nx--XyZy']), 'XyZ', LIMITS);
    expect(p!.value.toString()).toBe('x--XyZy');
  });

  it('finds the boundary in the content type', () => {
    expect(boundaryOf('multipart/form-data; boundary=abc')).toBe('abc');
    expect(boundaryOf('multipart/form-data; boundary="a b"; charset=utf-8')).toBe('a b');
    expect(boundaryOf('multipart/form-data')).toBeNull();
  });

  it.each([
    ['no boundary at all', Buffer.from('hello'), 'BAD_REQUEST'],
    ['an unterminated body', Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue'), 'BAD_REQUEST'],
    ['part headers without an end', Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="a"'), 'BAD_REQUEST'],
    ['too many parts', body(Array.from({ length: 40 }, (_, i) => `Content-Disposition: form-data; name="f${i}"\r\n\r\nx`)), 'PAYLOAD_TOO_LARGE'],
    ['part headers over the limit', body([`Content-Disposition: form-data; name="a"; filename="${'x'.repeat(2000)}"\r\n\r\nv`]), 'PAYLOAD_TOO_LARGE'],
    ['unterminated part headers over the limit', Buffer.from(`--XyZ\r\nX-Pad: ${'x'.repeat(5000)}`), 'PAYLOAD_TOO_LARGE'],
  ])('refuses %s', (_what, b, code) => {
    expect(() => parseMultipart(b, 'XyZ', LIMITS)).toThrow(expect.objectContaining({ code }));
  });
});
