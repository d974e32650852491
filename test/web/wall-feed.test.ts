// The wall's feed policy: previews as wide as a tile shows them, a rate that fits the connection,
// in steps; every choice one the service accepts (checked with the service's own parser).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chooseFeed, estimateMbps, feedQuery, FPS_STEPS, maxWidthFromRefusal, previewBytes, sameFeed, WIDTH_STEPS, type FeedInput, type WallFeed } from '../../web/src/wall-feed.js';
import { parseViewerOptions } from '../../src/streaming/viewer-options.js';

const base: FeedInput = { quality: 'auto', tileWidth: 300, devicePixelRatio: 1, cameras: 16, connection: null, maxWidth: 640 };
const preview = (f: WallFeed) => {
  if (f.rendition !== 'preview') throw new Error('expected a preview');
  return f;
};
/** Bytes a second the wall receives with a feed (the policy's own size estimate). */
const rate = (f: WallFeed, cameras: number) => preview(f).maxFps * cameras * previewBytes(preview(f).width);

describe('wall feed policy', () => {
  it('a 16-camera wall on an unknown connection (a phone on site) gets 320 px previews at 2 fps, about 2 Mbit/s', () => {
    const f = preview(chooseFeed(base));
    expect(f).toMatchObject({ width: 320, maxFps: 2 });
    expect((rate(f, 16) * 8) / 1e6).toBeLessThan(4);
    expect(feedQuery(f)).toBe('max_fps=2&rendition=preview&preview_width=320');
  });

  it('asks for the width a tile shows, in device pixels, in steps', () => {
    const at = (tileWidth: number, dpr = 1) => preview(chooseFeed({ ...base, cameras: 1, tileWidth, devicePixelRatio: dpr, connection: { downlink: 10 } })).width;
    expect(at(150)).toBe(160);
    expect(at(300)).toBe(320);
    expect(at(340)).toBe(320); // a little wider than a step: that step, scaled up slightly
    expect(at(400)).toBe(480);
    expect(at(300, 2)).toBe(640);
    expect(at(1900, 3)).toBe(640); // the service's bound
    expect(preview(chooseFeed({ ...base, cameras: 1, tileWidth: 600, maxWidth: 400 })).width).toBe(320);
    expect(preview(chooseFeed({ ...base, cameras: 1, tileWidth: 600, maxWidth: 100 })).width).toBe(100);
  });

  it('fits the rate to the connection and the number of cameras, trading width for rate below 1 fps', () => {
    const fast = preview(chooseFeed({ ...base, cameras: 4, connection: { downlink: 10, effectiveType: '4g' } }));
    expect(fast).toMatchObject({ width: 320, maxFps: 10 });
    const one = preview(chooseFeed({ ...base, cameras: 1, connection: { downlink: 10 } }));
    expect(one.maxFps).toBe(10); // never above what cameras send
    const many = preview(chooseFeed({ ...base, cameras: 64, connection: { downlink: 10 } }));
    expect(many.maxFps).toBeLessThanOrEqual(1); // the page's decode budget and the bandwidth
    const slow = preview(chooseFeed({ ...base, tileWidth: 300, devicePixelRatio: 2, connection: { effectiveType: '3g' } }));
    expect(slow.width).toBeLessThan(640); // narrower before slower
    expect(slow).toMatchObject({ width: 240, maxFps: 1 });
    expect(rate(slow, 16)).toBeLessThanOrEqual((1.5 * 0.5 * 1e6) / 8 * 1.25);
    expect(estimateMbps({ downlink: 2.5 })).toBe(2.5);
    expect(estimateMbps({ effectiveType: '2g' })).toBe(0.3);
    expect(estimateMbps({})).toBe(4);
  });

  it('saves data when asked (the setting or the browser’s Save-Data), and gives the full stream when asked', () => {
    const saver = preview(chooseFeed({ ...base, quality: 'saver', connection: { downlink: 10 } }));
    const auto = preview(chooseFeed({ ...base, connection: { downlink: 10 } }));
    expect(saver.width).toBeLessThan(auto.width);
    expect(rate(saver, 16)).toBeLessThan(rate(auto, 16));
    expect((saver.budgetMbps)).toBeLessThanOrEqual(0.5);
    expect(chooseFeed({ ...base, connection: { downlink: 10, saveData: true } })).toEqual(saver);
    expect(chooseFeed({ ...base, quality: 'full' })).toEqual({ rendition: 'full' });
    expect(feedQuery({ rendition: 'full' })).toBe('');
  });

  it('does not change for small changes of size or count (no reconnect on every resize)', () => {
    const a = chooseFeed({ ...base, tileWidth: 300 });
    for (const w of [290, 305, 320, 350]) expect(sameFeed(chooseFeed({ ...base, tileWidth: w }), a), `width ${w}`).toBe(true);
    expect(sameFeed(chooseFeed({ ...base, cameras: 15 }), a)).toBe(true);
    expect(sameFeed(chooseFeed({ ...base, cameras: 14 }), a)).toBe(true);
  });

  it('only ever asks for what the service accepts (its own parser), whatever the input', () => {
    fc.assert(
      fc.property(
        fc.record({
          quality: fc.constantFrom('auto' as const, 'saver' as const, 'full' as const),
          tileWidth: fc.double({ min: -10, max: 10_000, noNaN: true }),
          devicePixelRatio: fc.oneof(fc.double({ min: 0, max: 8, noNaN: true }), fc.constant(Number.NaN)),
          cameras: fc.integer({ min: -1, max: 500 }),
          connection: fc.option(fc.record({ downlink: fc.option(fc.double({ min: -1, max: 1000 }), { nil: undefined }), effectiveType: fc.option(fc.constantFrom('slow-2g', '2g', '3g', '4g', 'x'), { nil: undefined }), saveData: fc.option(fc.boolean(), { nil: undefined }) }), { nil: null }),
          maxWidth: fc.integer({ min: 64, max: 4096 }),
        }),
        (input) => {
          const f = chooseFeed(input);
          const query = Object.fromEntries(new URLSearchParams(`wait=true&with_id=true&${feedQuery(f)}`));
          const opts = parseViewerOptions(query, input.maxWidth); // throws on anything it would refuse with 400
          if (f.rendition === 'preview') {
            expect(opts).toMatchObject({ rendition: 'preview', maxFps: f.maxFps, previewWidth: f.width, wait: true, withId: true });
            expect(FPS_STEPS).toContain(f.maxFps);
            expect([...WIDTH_STEPS, input.maxWidth]).toContain(f.width);
          } else expect(opts).toMatchObject({ rendition: 'full', maxFps: null });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('learns the service’s bound from its refusal of a wider preview', () => {
    let detail = '';
    try {
      parseViewerOptions({ preview_width: '640' }, 200);
    } catch (err) {
      detail = (err as Error).message;
    }
    expect(maxWidthFromRefusal(detail)).toBe(200);
    expect(maxWidthFromRefusal('max_fps must be a number from 0.2 to 30, got "0"')).toBeNull();
  });
});
