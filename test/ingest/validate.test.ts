// The checks every upload passes, whichever way it came (POST /frames or WS /ws/frames).
import { describe, expect, it } from 'vitest';
import { validateUpload } from '../../src/ingest/validate.js';

describe('upload validation', () => {
  const img = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);
  const base = { label: 'a', key: 'b', warnings_json: '', cone_polygons_json: '[]', pole_polygons_json: '[]' };
  it('accepts numbers or digit strings for sizes and defaults them to 0', () => {
    expect(validateUpload({ ...base, width: 640, height: '480' }, img, 100).fields).toMatchObject({ width: '640', height: '480', detectionItems: '' });
    expect(validateUpload(base, img, 100).fields).toMatchObject({ width: '0', height: '0' });
  });
  it.each([
    [{ ...base, label: '' }, img, 'VALIDATION'],
    [{ ...base, key: undefined }, img, 'VALIDATION'],
    [{ ...base, warnings_json: undefined }, img, 'VALIDATION'],
    [{ ...base, cone_polygons_json: '[1,' }, img, 'VALIDATION'],
    [{ ...base, width: '12.5' }, img, 'VALIDATION'],
    [{ ...base, height: -1 }, img, 'VALIDATION'],
    [base, Buffer.alloc(0), 'VALIDATION'],
    [base, Buffer.from('GIF89a'), 'NOT_AN_IMAGE'],
    [base, Buffer.alloc(200, 0xff), 'PAYLOAD_TOO_LARGE'],
  ])('refuses %j', (raw, image, code) => {
    expect(() => validateUpload(raw as never, image, 100)).toThrow(expect.objectContaining({ code }));
  });
});
