import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundaryOf, parseMultipart, type Part } from '../../src/ingest/multipart.js';
import { readUploadForm } from '../../src/ingest/form.js';
import { UploadProblems, validateUpload } from '../../src/ingest/validate.js';

const KNOWN = ['label', 'key', 'warnings_json', 'cone_polygons_json', 'pole_polygons_json', 'detection_items_json', 'width', 'height', 'file'];

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

describe('multipart parser and upload form, property-based', () => {
  const BOUNDARY = 'fuzzBoundary1234';
  const DELIM = Buffer.from(`\r\n--${BOUNDARY}`);
  const name = fc.oneof(fc.constantFrom(...KNOWN), fc.stringMatching(/^[A-Za-z0-9_]{1,12}$/));
  const value = fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a)).filter((b) => Buffer.concat([Buffer.from('\r\n'), b]).indexOf(DELIM) < 0);
  const part = fc.record({ name, filename: fc.option(fc.stringMatching(/^[a-z0-9.]{0,12}$/), { nil: undefined }), value });
  const build = (parts: Array<{ name: string; filename?: string; value: Buffer }>) =>
    Buffer.concat([
      ...parts.flatMap((p) => [
        Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}\r\n\r\n`),
        p.value,
        Buffer.from('\r\n'),
      ]),
      Buffer.from(`--${BOUNDARY}--\r\n`),
    ]);
  const catalogue = (err: unknown) => ['BAD_REQUEST', 'PAYLOAD_TOO_LARGE'].includes((err as { code?: string }).code ?? '');

  it('gives back every part as built: names, filenames and bytes, in order', () => {
    fc.assert(
      fc.property(fc.array(part, { maxLength: 20 }), (parts) => {
        const out = parseMultipart(build(parts), BOUNDARY, { maxParts: 32, maxHeaderBytes: 1024 });
        expect(out.map((p) => [p.name, p.filename ?? undefined, p.value.toString('hex')])).toEqual(parts.map((p) => [p.name, p.filename, p.value.toString('hex')]));
      }),
    );
  });

  it('refuses any truncation before the closing boundary with a catalogue error', () => {
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (parts, at) => {
        const body = build(parts);
        const cut = Math.floor(at * (body.length - 4)); // before the end of "--boundary--"
        expect(() => parseMultipart(body.subarray(0, cut), BOUNDARY, { maxParts: 32, maxHeaderBytes: 1024 })).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
      }),
    );
  });

  it('never fails otherwise than with a catalogue error on any bytes, and stays within its limits', () => {
    const noise = fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)), fc.constantFrom(...['--', '\r\n', '\r\n\r\n', `--${BOUNDARY}`, `\r\n--${BOUNDARY}\r\n`, `--${BOUNDARY}--`, 'Content-Disposition: form-data; name="label"', '; filename="x"'].map((s) => Buffer.from(s)))), { maxLength: 40 });
    fc.assert(
      fc.property(noise, (chunks) => {
        const body = Buffer.concat(chunks);
        try {
          const parts = parseMultipart(body, BOUNDARY, { maxParts: 8, maxHeaderBytes: 64 });
          expect(parts.length).toBeLessThanOrEqual(8);
          for (const p of parts) expect(p.value.buffer === body.buffer || p.value.length === 0).toBe(true);
        } catch (err) {
          expect(catalogue(err), String(err)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('turns any parts into a stored upload equal to what was sent, or into one error listing its problems', () => {
    // A good upload, each part of it kept, dropped, sent twice, garbled or sent as the other kind, plus stray parts.
    const base: Part[] = [
      ['label', 'north'], ['key', 'cam 1'], ['warnings_json', '{"warning_no_hardhat":{"count":2}}'], ['cone_polygons_json', '[]'], ['pole_polygons_json', ''], ['width', '640'],
    ].map(([n, v]) => ({ name: n!, filename: null, value: Buffer.from(v!) }));
    base.push({ name: 'file', filename: 'f.jpg', value: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2]) });
    const mutation = fc.constantFrom('keep', 'keep', 'keep', 'keep', 'keep', 'keep', 'keep', 'keep', 'drop', 'twice', 'garble', 'flip');
    const junk = fc.oneof(fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)), fc.string({ maxLength: 24 }).map((t) => Buffer.from(t)));
    const stray = fc.record({ name: fc.constantFrom(...KNOWN, 'other', 'extra'), filename: fc.option(fc.constant('x.bin'), { nil: null }), value: junk });
    const forms = fc
      .tuple(fc.array(fc.tuple(mutation, junk), { minLength: base.length, maxLength: base.length }), fc.array(stray, { maxLength: 3 }))
      .map(([ops, strays]) => [
        ...base.flatMap((p, i): Part[] => {
          const [op, bytes] = ops[i]!;
          if (op === 'drop') return [];
          if (op === 'twice') return [p, { ...p, value: bytes }];
          if (op === 'garble') return [{ ...p, value: bytes }];
          if (op === 'flip') return [{ ...p, filename: p.filename === null ? 'f.txt' : null }];
          return [p];
        }),
        ...strays,
      ]);
    let accepted = 0;
    fc.assert(
      fc.property(forms, (parts) => {
        const problems = new UploadProblems();
        try {
          const form = readUploadForm(parts, problems);
          const v = validateUpload(form.raw, form.image, { maxFrameBytes: 64, maxMetadataBytes: 40 }, problems);
          // Accepted: each known field came once, as text (the file as a file), and is stored as sent.
          for (const n of KNOWN) expect(parts.filter((p) => p.name === n).length).toBeLessThanOrEqual(1);
          const sent = (n: string) => parts.find((p) => p.name === n)?.value.toString('utf8');
          expect([v.label, v.key, v.fields.warnings, v.fields.conePolygons, v.fields.polePolygons]).toEqual(['label', 'key', 'warnings_json', 'cone_polygons_json', 'pole_polygons_json'].map(sent));
          expect(v.fields.frame.equals(parts.find((p) => p.name === 'file')!.value)).toBe(true);
          accepted++;
        } catch (err) {
          const e = err as { statusCode?: number; problems?: unknown[] };
          expect([413, 415, 422], String(err)).toContain(e.statusCode);
          expect(e.problems!.length).toBeGreaterThan(0);
          expect(e.problems!.length).toBeLessThanOrEqual(20);
        }
      }),
      { numRuns: 1000 },
    );
    expect(accepted).toBeGreaterThan(5); // both outcomes were exercised
  });
});
