// The wall in headless Chromium asks the service for previews at a rate that fits (and says so in
// each tile), draws them under overlays in the original's coordinates, reconnects only when its
// choice changes by a step, learns a lower preview bound from the service's refusal; a camera
// opened large gets the full stream.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { startService, testPassword, type TestService } from '../helpers/service.js';
import { postFrame, sleep, uniqueLabel } from '../helpers/frames.js';
import { canvasPixels, canvasSize, launchChromium, logIn, openPage, OpenPages } from '../helpers/browser.js';

const isRed = ([r, g, b]: number[]) => r! > 200 && g! < 90 && b! < 90;
const isGrey = ([r, g, b]: number[]) => [r, g, b].every((c) => Math.abs(c! - 128) < 24);
const isBlue = ([r, g, b]: number[]) => b! > 180 && r! < 60 && g! < 60;

/** 1280×720: grey with its right half blue, so that an image drawn at its own (preview) size instead of scaled to the tile shows. */
async function halfBlue(): Promise<Buffer> {
  const blue = await sharp({ create: { width: 640, height: 720, channels: 3, background: { r: 0, g: 0, b: 230 } } }).png().toBuffer();
  return sharp({ create: { width: 1280, height: 720, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .composite([{ input: blue, left: 640, top: 0 }])
    .jpeg({ quality: 95 })
    .toBuffer();
}

interface Socket {
  url: URL;
  /** Sizes of the binary messages it received. */
  frames: number[];
}

/** Every socket the page opens, with the sizes of the frames it receives. */
function watchSockets(p: Page): Socket[] {
  const list: Socket[] = [];
  p.on('websocket', (ws) => {
    const s: Socket = { url: new URL(ws.url()), frames: [] };
    list.push(s);
    ws.on('framereceived', (f) => {
      if (typeof f.payload !== 'string') s.frames.push(f.payload.length);
    });
  });
  return list;
}

const wallSockets = (list: Socket[]) => list.filter((s) => s.url.pathname.startsWith('/ws/labels/'));

/** Waits for a condition on this side (the sockets the page opened). */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(25);
  }
}

/** What a wall socket asks for, in the words of a tile's feed label. */
function feedLabel(s: Socket): string {
  const q = s.url.searchParams;
  return q.get('rendition') === 'preview' ? `Preview ${q.get('preview_width')} px · ${q.get('max_fps')} fps` : 'Full stream';
}

/**
 * The wall socket asking for what the tiles say they show, once both have held for `quietMs`. The
 * page labels its tiles before it opens the new socket, the socket reaches this side later still,
 * and the chooser looks again a second after a change: a count taken at the label can be one short.
 */
async function feedSocket(p: Page, sockets: Socket[], quietMs = 1200): Promise<Socket> {
  const end = Date.now() + 10_000;
  let held: Socket | undefined;
  let since = 0;
  for (;;) {
    const label = await p.textContent('.tile .tile-feed');
    const last = wallSockets(sockets).at(-1);
    const matches = last !== undefined && feedLabel(last) === label;
    if (!matches || held !== last) [held, since] = [matches ? last : undefined, Date.now()];
    if (matches && Date.now() - since >= quietMs) return last;
    if (Date.now() > end) throw new Error(`the wall socket never matched the tiles' label "${label}" (last: ${last && feedLabel(last)})`);
    await sleep(50);
  }
}

async function metric(svc: TestService, name: string): Promise<number> {
  const text = await (await fetch(`${svc.url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

describe('web viewer: previews on the wall, the full stream large', () => {
  let svc: TestService;
  let browser: Browser;
  let admin: string;
  let image: Buffer;
  const pages = new OpenPages(() => browser);

  beforeAll(async () => {
    [svc, browser, image] = await Promise.all([startService(), launchChromium(), halfBlue()]);
    admin = await svc.token('root', 'admin');
  });
  afterAll(async () => {
    await browser?.close();
    await svc?.stop();
  });
  afterEach(async () => {
    expect(await pages.closeAll()).toEqual([]);
  });
  const page = (opts?: Parameters<typeof openPage>[1]) => pages.page(opts);

  const frame = async (target: TestService, token: string, label: string, key: string, meta: Record<string, string> = {}) => {
    const r = await postFrame(target.url, token, { label, key, warnings_json: '{}', cone_polygons_json: '[]', pole_polygons_json: '[]', detection_items_json: '[]', width: '1280', height: '720', ...meta }, image);
    expect(r.status).toBe(200);
  };
  /**
   * A frame a second keeps cameras live (a tile shows its camera offline 5 s after its newest
   * frame) through steps that take longer than that on a busy machine. Returns the stop.
   */
  const keepLive = (label: string, cams: string[], meta: Record<string, string> = {}): (() => void) => {
    const feeder = setInterval(() => {
      for (const cam of cams) void frame(svc, admin, label, cam, meta).catch(() => {});
    }, 1000);
    return () => clearInterval(feeder);
  };

  it('asks for previews sized to the tiles at a capped rate, says so in the tile, draws them under the overlays; the camera opened large gets the full stream', async () => {
    const label = uniqueLabel();
    const boxed = { detection_items_json: '[[100, 100, 500, 400, 0.9, 2]]' };
    await frame(svc, admin, label, 'yard', boxed);
    const madeBefore = await metric(svc, 'previews_made');
    // Live until the camera is opened large, a dozen steps later.
    const stopFeeding = keepLive(label, ['yard'], boxed);
    try {
      await previewsAndLarge(label, madeBefore);
    } finally {
      stopFeeding();
    }
  });

  async function previewsAndLarge(label: string, madeBefore: number): Promise<void> {
    const { page: p } = await page();
    const sockets = watchSockets(p);
    await logIn(p, svc.url, 'root', testPassword('root'), `#/site/${encodeURIComponent(label)}`);
    const tile = '.tile[data-camera="yard"]';
    await p.waitForSelector(`${tile}[data-state="alarm"]`);
    await p.waitForFunction(() => window.__framestream!.stats.drawn >= 1);
    // The first choice is made before the cameras are known; once they are, it may change once.
    const wall = await feedSocket(p, sockets);
    const walls = wallSockets(sockets);
    expect(walls.length).toBeLessThanOrEqual(2);
    const q = Object.fromEntries(wall.url.searchParams);
    expect(q).toMatchObject({ wait: 'true', with_id: 'true', rendition: 'preview' });
    const width = Number(q.preview_width);
    const fps = Number(q.max_fps);
    const shown = await p.$eval(`${tile} canvas`, (c) => c.clientWidth);
    expect(width).toBeGreaterThanOrEqual(shown * 0.9); // as wide as the tile shows it
    expect(width).toBeLessThanOrEqual(640); // PREVIEW_MAX_WIDTH's default
    expect(fps).toBeGreaterThanOrEqual(0.2);
    expect(fps).toBeLessThanOrEqual(10);
    expect(await p.textContent(`${tile} .tile-feed`)).toBe(feedLabel(wall));
    expect(await p.getAttribute(`${tile} .tile-feed`, 'title')).toMatch(/^Cameras on the wall: 1; connection: about [\d.]+ Mbit\/s$/);
    expect(await metric(svc, 'previews_made')).toBeGreaterThan(madeBefore);
    expect(Math.max(...walls.flatMap((w) => w.frames))).toBeLessThan(image.length / 2); // previews, not the original

    // The preview is drawn scaled to the tile, the boxes from the header's 1280×720.
    const c = await canvasSize(p, `${tile} canvas`);
    const s = Math.min(c.width / 1280, c.height / 720);
    const ox = (c.width - 1280 * s) / 2;
    const oy = (c.height - 720 * s) / 2;
    const at = (x: number, y: number): [number, number] => [ox + x * s, oy + y * s];
    const [left, right, inside, below, blueHalf, blueCorner] = await canvasPixels(p, `${tile} canvas`, [at(100, 250), at(500, 250), at(300, 250), at(300, 600), at(960, 360), at(1260, 700)]);
    expect(isRed(left!), `box left edge ${left}`).toBe(true);
    expect(isRed(right!), `box right edge ${right}`).toBe(true);
    expect(isGrey(inside!), `inside the box ${inside}`).toBe(true);
    expect(isGrey(below!), `below the box ${below}`).toBe(true);
    expect(isBlue(blueHalf!), `right half ${blueHalf}`).toBe(true);
    expect(isBlue(blueCorner!), `bottom right corner ${blueCorner}`).toBe(true);

    // Large: its own pull socket, without preview or cap, receiving the original.
    await p.click(tile);
    await p.waitForSelector('.camera-view .tile-large[data-state="alarm"]');
    const large = sockets.find((x) => x.url.pathname.startsWith('/ws/stream/'))!;
    expect(large.url.pathname).toBe(`/ws/stream/${encodeURIComponent(label)}/yard`);
    for (const k of ['rendition', 'preview_width', 'max_fps']) expect(large.url.searchParams.has(k), k).toBe(false);
    await p.waitForFunction(() => document.querySelector('.camera-view .tile-feed')?.textContent === 'Full stream');
    expect(large.frames.length).toBeGreaterThanOrEqual(1);
    expect(large.frames[0]).toBeGreaterThan(image.length); // the image as uploaded, and its header
  }

  it('reopens the wall socket when the setting or a resize changes its choice by a step, not on a small resize', async () => {
    const label = uniqueLabel();
    await frame(svc, admin, label, 'gate');
    const { page: p } = await page({ width: 1280, height: 800 });
    const sockets = watchSockets(p);
    await logIn(p, svc.url, 'root', testPassword('root'), `#/site/${encodeURIComponent(label)}`);
    const feedText = () => p.textContent('.tile[data-camera="gate"] .tile-feed');
    await p.waitForSelector('.tile[data-camera="gate"][data-state="live"]');
    const auto = Object.fromEntries((await feedSocket(p, sockets)).url.searchParams); // the first choice settles (one camera: maybe another rate)
    const settled = wallSockets(sockets).length;
    expect(auto.rendition).toBe('preview');

    await p.selectOption('select.quality', 'saver');
    await until(() => wallSockets(sockets).length === settled + 1);
    const saverSocket = wallSockets(sockets).at(-1)!;
    const saver = Object.fromEntries(saverSocket.url.searchParams);
    expect(Number(saver.preview_width)).toBeLessThan(Number(auto.preview_width));
    expect(await feedText()).toBe(feedLabel(saverSocket));

    await p.selectOption('select.quality', 'full');
    await until(() => wallSockets(sockets).length === settled + 2);
    expect(await feedText()).toBe('Full stream');
    const full = wallSockets(sockets).at(-1)!.url.searchParams;
    expect(full.has('rendition') || full.has('max_fps') || full.has('preview_width')).toBe(false);
    expect(await p.evaluate(() => localStorage.getItem('framestream.wall.quality'))).toBe('full');
    // The picture stays while the socket changes, and frames keep coming on the new one.
    const before = await p.evaluate(() => window.__framestream!.stats.drawn);
    await frame(svc, admin, label, 'gate');
    await p.waitForFunction((n) => window.__framestream!.stats.drawn > n, before);

    await p.selectOption('select.quality', 'auto');
    await until(() => wallSockets(sockets).length === settled + 3);
    expect(await feedText()).toMatch(/^Preview/);
    const count = wallSockets(sockets).length;
    await p.setViewportSize({ width: 1250, height: 800 }); // tiles a little narrower: the same step
    await sleep(1600);
    expect(wallSockets(sockets).length).toBe(count);
    expect(wallSockets(sockets).at(-1)!.url.searchParams.get('preview_width')).toBe('480'); // two columns of ~440 px
    await p.setViewportSize({ width: 700, height: 800 }); // one column of ~330 px: the next step down
    await p.waitForFunction(() => /^Preview 320 px/.test(document.querySelector('.tile .tile-feed')?.textContent ?? ''), undefined, { timeout: 5000 });
    await until(() => wallSockets(sockets).length === count + 1);
    expect(wallSockets(sockets).at(-1)!.url.searchParams.get('preview_width')).toBe('320');
  });

  it('asks for less on a slow connection', async () => {
    const label = uniqueLabel();
    const cams = ['a', 'b', 'c', 'd'];
    for (const cam of cams) await frame(svc, admin, label, cam);
    const stopFeeding = keepLive(label, cams); // while two pages log in one after the other
    try {
      await ratesBySpeed(label);
    } finally {
      stopFeeding();
    }
  }, 45_000); // two pages, each logged in: slow when the whole suite shares the machine

  async function ratesBySpeed(label: string): Promise<void> {
    const rates: Record<string, URLSearchParams> = {};
    for (const speed of ['fast', 'slow'] as const) {
      const { page: p } = await page();
      if (speed === 'slow') {
        await p.addInitScript(() => {
          const connection = Object.assign(new EventTarget(), { downlink: 0.4, effectiveType: '3g', saveData: false });
          Object.defineProperty(Navigator.prototype, 'connection', { configurable: true, get: () => connection });
        });
      }
      const sockets = watchSockets(p);
      await logIn(p, svc.url, 'root', testPassword('root'), `#/site/${encodeURIComponent(label)}`);
      await p.waitForFunction(() => document.querySelectorAll('.tile[data-state="live"]').length === 4);
      rates[speed] = (await feedSocket(p, sockets)).url.searchParams;
    }
    const cost = (q: URLSearchParams) => Number(q.get('max_fps')) * Number(q.get('preview_width')) ** 2;
    expect(cost(rates.slow!)).toBeLessThan(cost(rates.fast!));
    expect(Number(rates.slow!.get('max_fps'))).toBeLessThanOrEqual(2);
  }

  it('learns a lower PREVIEW_MAX_WIDTH from the service’s refusal and shows the wall with it', async () => {
    const narrow = await startService({ env: { PREVIEW_MAX_WIDTH: '200' } });
    try {
      const token = await narrow.token('root', 'admin');
      const label = uniqueLabel();
      await frame(narrow, token, label, 'mast');
      // Two device pixels a CSS pixel: the tiles want more than this service allows.
      const { page: p } = await page({ deviceScaleFactor: 2 });
      const sockets = watchSockets(p);
      await logIn(p, narrow.url, 'root', testPassword('root'), `#/site/${encodeURIComponent(label)}`);
      await p.waitForSelector('.tile[data-camera="mast"][data-state="live"]', { timeout: 10_000 });
      const widths = wallSockets(sockets).map((s) => s.url.searchParams.get('preview_width'));
      expect(Number(widths[0])).toBeGreaterThan(200); // refused before the upgrade
      expect(widths.at(-1)).toBe('160');
      expect(await p.textContent('.tile[data-camera="mast"] .tile-feed')).toMatch(/^Preview 160 px · [\d.]+ fps$/);
    } finally {
      await narrow.stop();
    }
  });
});
