import { describe, expect, it } from 'vitest';
import { boundaryOf, parseMultipart } from '../../src/ingest/multipart.js';

const body = (parts: string[], boundary = 'XyZ') => Buffer.from(`preamble\r\n${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('')}--${boundary}--\r\n`, 'latin1');

describe('multipart parser', () => {
  it('reads fields and files, quoted or bare names, and keeps the first of duplicates', () => {
    const m = parseMultipart(
      body([
        'Content-Disposition: form-data; name="label"\r\n\r\nsite "A"',
        'Content-Disposition: form-data; name=key\r\n\r\ncam-1',
        'content-disposition: form-data; name="file"; filename="a\\"b.jpg"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\r\n--not-the-boundary',
        'Content-Disposition: form-data; name="label"\r\n\r\nsecond',
        'Content-Disposition: form-data; name="filename"\r\n\r\na field called filename',
      ]),
      'XyZ',
    );
    expect(Object.fromEntries(m.fields)).toEqual({ label: 'site "A"', key: 'cam-1', filename: 'a field called filename' });
    expect([...m.files.get('file')!]).toEqual([...Buffer.from('\xff\xd8\xff\r\n--not-the-boundary', 'latin1')]);
  });

  it('finds the boundary in the content type', () => {
    expect(boundaryOf('multipart/form-data; boundary=abc')).toBe('abc');
    expect(boundaryOf('multipart/form-data; boundary="a b"; charset=utf-8')).toBe('a b');
    expect(boundaryOf('multipart/form-data')).toBeNull();
  });

  it.each([
    ['no boundary at all', Buffer.from('hello')],
    ['an unterminated body', Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue')],
    ['part headers without an end', Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="a"')],
    ['too many parts', body(Array.from({ length: 40 }, (_, i) => `Content-Disposition: form-data; name="f${i}"\r\n\r\nx`))],
  ])('refuses %s with BAD_REQUEST', (_what, b) => {
    expect(() => parseMultipart(b, 'XyZ')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });
});
