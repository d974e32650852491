// Reading the warnings of a frame in both shapes (DESIGN.md §2), and their English words.
import { describe, expect, it } from 'vitest';
import { MAX_CODE_LENGTH, MAX_WARNINGS_PER_FRAME, mayHaveWarnings, parseWarnings } from '../../src/events/warnings.js';
import { describeWarning, WARNING_TEXTS } from '../../src/events/catalogue.js';
import { PendingRuns } from '../../src/events/grouping.js';

describe('parseWarnings', () => {
  it('reads the code object, with counts', () => {
    expect(parseWarnings('{"warning_no_hardhat":{"count":2},"warning_close_to_machinery":{"count":1}}')).toEqual([
      { code: 'warning_no_hardhat', kind: 'code', count: 2 },
      { code: 'warning_close_to_machinery', kind: 'code', count: 1 },
    ]);
  });

  it('takes extra keys, a bare number or no count at all', () => {
    expect(parseWarnings('{"warning_fire":{"count":3,"confidence":0.9},"warning_smoke":{},"warning_no_mask":2,"warning_x":true}')).toEqual([
      { code: 'warning_fire', kind: 'code', count: 3 },
      { code: 'warning_smoke', kind: 'code', count: 1 },
      { code: 'warning_no_mask', kind: 'code', count: 2 },
      { code: 'warning_x', kind: 'code', count: 1 },
    ]);
  });

  it('reads the older sentence list; a repeated sentence counts', () => {
    expect(parseWarnings('["Warning: Someone is not wearing a hardhat!","Too close","Warning: Someone is not wearing a hardhat!"]')).toEqual([
      { code: 'Warning: Someone is not wearing a hardhat!', kind: 'sentence', count: 2 },
      { code: 'Too close', kind: 'sentence', count: 1 },
    ]);
  });

  it.each(['', '  ', '[]', '{}', 'null', '0', '"  "', '[1, null, {}, ""]', '{"warning_no_hardhat":{"count":0}}', '{"warning_no_hardhat":false}', 'not json'])(
    'finds no warning in %j',
    (raw) => {
      expect(parseWarnings(raw)).toEqual([]);
    },
  );

  it('bounds what one frame can add', () => {
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`warning_${i}`, { count: 1 }]));
    expect(parseWarnings(JSON.stringify(many))).toHaveLength(MAX_WARNINGS_PER_FRAME);
    const long = parseWarnings(JSON.stringify(['x'.repeat(5000)]));
    expect(long[0]!.code).toHaveLength(MAX_CODE_LENGTH);
    expect(parseWarnings('{"warning_no_hardhat":{"count":1e12}}')[0]!.count).toBe(1_000_000);
  });

  it('skips the empty shapes without parsing', () => {
    for (const raw of ['', '[]', '{}', 'null']) expect(mayHaveWarnings(raw)).toBe(false);
    expect(mayHaveWarnings('{"a":1}')).toBe(true);
  });
});

describe('describeWarning', () => {
  it('uses the detectors’ wording for known codes', () => {
    expect(describeWarning('warning_no_hardhat', 'code', 2)).toEqual({ words: '2 people are not wearing a hardhat', title: 'No hardhat' });
    expect(describeWarning('detect_machinery_close_to_pole', 'code', 1).words).toBe('1 machines are too close to the utility pole');
    for (const t of Object.values(WARNING_TEXTS)) expect(t.words).toContain('{count}');
  });

  it('falls back for an unknown code, and keeps a sentence as it is', () => {
    expect(describeWarning('warning_fire', 'code', 3)).toEqual({ words: 'Fire (3)', title: 'Fire' });
    expect(describeWarning('Warning: Someone is not wearing a hardhat!', 'sentence', 1).words).toBe('Warning: Someone is not wearing a hardhat!');
  });
});

describe('PendingRuns', () => {
  const s = (at: number, count = 1, camera = 'c') => ({ site: 's', camera, code: 'w', kind: 'code' as const, count, at, frameId: `${at}-0`, image: Buffer.from([at]) });

  it('folds frames within the quiet period into one run, keeping the first frame with the highest count', () => {
    const p = new PendingRuns(1000, 10, 1 << 20);
    p.add(s(0, 1));
    p.add(s(500, 3));
    p.add(s(900, 3));
    p.add(s(1400, 2));
    const [run, ...rest] = p.take(10);
    expect(rest).toEqual([]);
    expect(run).toMatchObject({ firstAt: 0, lastAt: 1400, frames: 4, count: 2, firstCount: 1, peakCount: 3, peakAt: 500, peakFrameId: '500-0' });
    expect(run!.peakImage).toEqual(Buffer.from([500 & 0xff]));
  });

  it('holds copies of at most maxImageBytes of images, freed when runs are taken', () => {
    // Each image a view into a 400-byte body, as an upload's is.
    const big = (at: number, count = 1, camera = 'c') => ({ ...s(at, count, camera), image: Buffer.alloc(400, at & 0xff).subarray(10, 300) });
    const p = new PendingRuns(1000, 100, 1000);
    const original = big(0).image;
    p.add({ ...big(0), image: original });
    p.add(big(10, 2)); // a new peak: another image (800 bytes held)
    p.add(big(20, 3)); // a higher peak: replaces the previous one
    expect(p.heldImageBytes).toBe(800);
    p.add(big(30, 1, 'second')); // 1200 would pass the bound: no image
    expect(p.imagesSkipped).toBe(1);
    const [a, b] = p.take(10);
    expect(a!.firstImage).toBe(original);
    expect(a!.peakImage![0]).toBe(20);
    expect(b!.firstImage).toBeNull();
    expect(p.heldImageBytes).toBe(0);
    p.putBack([a!, b!]);
    expect(p.heldImageBytes).toBe(800);
  });

  it('starts another run after the quiet period, and drops the oldest past its bound (counted)', () => {
    const p = new PendingRuns(1000, 2, 1 << 20);
    p.add(s(0));
    p.add(s(2000));
    expect(p.size).toBe(2);
    p.add(s(2100, 1, 'other'));
    expect(p.size).toBe(2);
    expect(p.droppedFrames).toBe(1);
    expect(p.take(10).map((r) => [r.camera, r.firstAt])).toEqual([['c', 2000], ['other', 2100]]);
    expect(p.size).toBe(0);
  });
});
