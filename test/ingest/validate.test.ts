// The checks every upload passes, whichever way it came (POST /frames or WS /ws/frames).
import { describe, expect, it } from 'vitest';
import { validateUpload } from '../../src/ingest/validate.js';

describe('upload validation', () => {
  const img = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);
  const limits = { maxFrameBytes: 100, maxMetadataBytes: 50 };
  const base = { label: 'a', key: 'b', warnings_json: '', cone_polygons_json: '[]', pole_polygons_json: '[]' };
  it('accepts numbers or digit strings for sizes and defaults them to 0', () => {
    expect(validateUpload({ ...base, width: 640, height: '480' }, img, limits).fields).toMatchObject({ width: '640', height: '480', detectionItems: '' });
    expect(validateUpload(base, img, limits).fields).toMatchObject({ width: '0', height: '0' });
  });
  it('keeps text exactly as sent, a byte-order mark included', () => {
    const v = validateUpload({ ...base, label: 'site ü', key: '\ufeffcam/../1', warnings_json: ' {"a":"é"} ' }, img, limits);
    expect(v).toMatchObject({ label: 'site ü', key: '\ufeffcam/../1', fields: { warnings: ' {"a":"é"} ' } });
  });
  it.each([
    [{ ...base, label: '' }, img, 'VALIDATION'],
    [{ ...base, label: 'a\u0000b' }, img, 'VALIDATION'],
    [{ ...base, label: ' padded' }, img, 'VALIDATION'],
    [{ ...base, label: 'x'.repeat(201) }, img, 'VALIDATION'],
    [{ ...base, key: undefined }, img, 'VALIDATION'],
    [{ ...base, key: 'k'.repeat(257) }, img, 'VALIDATION'],
    [{ ...base, key: 'lone \ud800 surrogate' }, img, 'VALIDATION'],
    [{ ...base, warnings_json: undefined }, img, 'VALIDATION'],
    [{ ...base, warnings_json: 42 }, img, 'VALIDATION'],
    [{ ...base, cone_polygons_json: '[1,' }, img, 'VALIDATION'],
    [{ ...base, cone_polygons_json: `[${'1,'.repeat(30)}1]` }, img, 'PAYLOAD_TOO_LARGE'],
    [{ ...base, width: '12.5' }, img, 'VALIDATION'],
    [{ ...base, height: -1 }, img, 'VALIDATION'],
    [base, Buffer.alloc(0), 'VALIDATION'],
    [base, Buffer.from('GIF89a'), 'NOT_AN_IMAGE'],
    [base, Buffer.alloc(200, 0xff), 'PAYLOAD_TOO_LARGE'],
  ])('refuses %j', (raw, image, code) => {
    expect(() => validateUpload(raw as never, image, limits)).toThrow(expect.objectContaining({ code }));
  });
  it('reports every problem at once, with the status of the most telling one', () => {
    const all = () => validateUpload({ key: '', warnings_json: '{', width: 'w' } as never, Buffer.from('GIF89a'), limits);
    expect(all).toThrow(
      expect.objectContaining({
        code: 'VALIDATION',
        statusCode: 422,
        message: 'label is required; key is required; warnings_json is not valid JSON; cone_polygons_json is required; pole_polygons_json is required; width must be a non-negative integer; file is not an image (expected JPEG or PNG bytes)',
        problems: expect.arrayContaining([{ field: 'label', message: 'is required' }, { field: 'file', message: 'is not an image (expected JPEG or PNG bytes)' }]),
      }),
    );
    expect(() => validateUpload({ ...base, label: '' }, Buffer.alloc(200, 0xff), limits)).toThrow(expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE', message: 'label is required; file is larger than 100 bytes (MAX_FRAME_BYTES)' }));
  });
});
