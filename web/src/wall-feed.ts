// What the wall asks the service for (README, "Rate caps and previews"): previews as wide as a
// tile shows them and a frame rate that fits the connection, or the full stream when the user
// says so. Choices come in steps, so that a small resize or a slightly different estimate asks
// for the same feed and the wall socket is not reopened. No DOM here.

export type WallQuality = 'auto' | 'saver' | 'full';
export const WALL_QUALITIES: readonly WallQuality[] = ['auto', 'saver', 'full'];

export type WallFeed =
  | { rendition: 'full' }
  | {
      rendition: 'preview';
      width: number;
      maxFps: number;
      /** Bandwidth the choice was made for, in Mbit/s (shown to the user). */
      budgetMbps: number;
    };

/** What the browser says about its connection (the Network Information API, where there is one). */
export interface ConnectionInfo {
  /** Estimated downlink in Mbit/s (Chromium rounds it and caps it at 10). */
  downlink?: number;
  effectiveType?: string;
  saveData?: boolean;
}

export interface FeedInput {
  quality: WallQuality;
  /** Width a tile shows the picture at, in CSS pixels. */
  tileWidth: number;
  devicePixelRatio: number;
  cameras: number;
  connection: ConnectionInfo | null;
  /** The widest preview the service allows (PREVIEW_MAX_WIDTH: 640 unless learnt otherwise). */
  maxWidth: number;
}

/** The service's bounds on the socket parameters (src/streaming/viewer-options.ts). */
export const MIN_FPS = 0.2;
export const MIN_PREVIEW_WIDTH = 16;
/** PREVIEW_MAX_WIDTH's default: the widest the page asks for until the service says less. */
export const DEFAULT_MAX_WIDTH = 640;

export const WIDTH_STEPS = [160, 240, 320, 480, 640] as const;
export const FPS_STEPS = [0.2, 0.5, 1, 2, 3, 5, 10] as const;

/** Today's detectors send about 10 fps: a tile gains nothing above that. */
const TILE_MAX_FPS = 10;
/** Decodes a second the whole wall may cost the page (a phone decodes a few dozen small JPEGs a second easily). */
const WALL_MAX_DECODES = 60;
/** Share of the estimated downlink the wall may use: the rest is for the camera opened large, snapshots, other tabs. */
const SHARE = 0.5;
/** Without any estimate: what a phone on a site usually gets. */
const UNKNOWN_MBPS = 4;
const BY_TYPE: Record<string, number> = { 'slow-2g': 0.1, '2g': 0.3, '3g': 1.5, '4g': 8 };
/** Data saver: at most this much, whatever the connection. */
const SAVER_MBPS = 0.5;
/** Measured: a 1280×720 photograph of ~100 KB becomes a ~8 KB preview 320 wide; JPEG bytes go with the pixels. */
const BYTES_AT_320 = 8000;
/** A tile only a little wider than a step is shown with that step (scaled up slightly) rather than the next. */
const WIDTH_SLACK = 0.9;
/** Below this rate a smaller picture is preferred to a slower one. */
const MIN_USEFUL_FPS = 1;

/** The downlink estimate in Mbit/s. */
export function estimateMbps(c: ConnectionInfo | null): number {
  if (c && typeof c.downlink === 'number' && Number.isFinite(c.downlink) && c.downlink > 0) return c.downlink;
  if (c?.effectiveType && BY_TYPE[c.effectiveType] !== undefined) return BY_TYPE[c.effectiveType]!;
  return UNKNOWN_MBPS;
}

/** Bytes of one preview `width` pixels wide (16:9). */
export function previewBytes(width: number): number {
  return BYTES_AT_320 * (width / 320) ** 2;
}

/** The width steps the service accepts: those within its bound, or the bound itself when every step is wider. */
function widthSteps(maxWidth: number): number[] {
  const bound = Math.max(MIN_PREVIEW_WIDTH, Math.floor(maxWidth));
  const steps = WIDTH_STEPS.filter((w) => w <= bound);
  return steps.length > 0 ? steps : [bound];
}

/** The largest rate step at or below `fps` (a quarter above counts: the budget already has room), at least MIN_FPS. */
function fpsStep(fps: number): number {
  let best: number = FPS_STEPS[0];
  for (const s of FPS_STEPS) if (s <= fps * 1.25) best = s;
  return best;
}

export function chooseFeed(input: FeedInput): WallFeed {
  if (input.quality === 'full') return { rendition: 'full' };
  const saver = input.quality === 'saver' || input.connection?.saveData === true;
  const budgetMbps = Math.min(estimateMbps(input.connection) * SHARE, saver ? SAVER_MBPS : Infinity);
  const cameras = Math.max(1, Math.floor(input.cameras));
  const steps = widthSteps(input.maxWidth);
  const wanted = Math.max(1, input.tileWidth) * Math.max(0.5, input.devicePixelRatio || 1) * WIDTH_SLACK;
  let i = steps.findIndex((w) => w >= wanted);
  if (i < 0) i = steps.length - 1;
  // Data saver: a step smaller than the tile shows, and never over 320.
  if (saver) i = Math.max(0, Math.min(i - 1, steps.filter((w) => w <= 320).length - 1));
  const fpsAt = (w: number) => Math.min(TILE_MAX_FPS, WALL_MAX_DECODES / cameras, (budgetMbps * 125_000) / (cameras * previewBytes(w)));
  while (i > 0 && fpsAt(steps[i]!) < MIN_USEFUL_FPS) i--;
  const width = steps[i]!;
  return { rendition: 'preview', width, maxFps: fpsStep(fpsAt(width)), budgetMbps };
}

/** The socket query for a feed (the service refuses values outside its bounds, so these never are). */
export function feedQuery(f: WallFeed): string {
  if (f.rendition === 'full') return '';
  return `max_fps=${f.maxFps}&rendition=preview&preview_width=${f.width}`;
}

export function sameFeed(a: WallFeed, b: WallFeed): boolean {
  return feedQuery(a) === feedQuery(b);
}

/**
 * The widest preview the service allows, from its refusal of a wider one: the socket URL fetched
 * as plain HTTP answers 400 with `preview_width must be … from 16 to <max>, got …` before any
 * token is checked. null when the answer is about something else.
 */
export function maxWidthFromRefusal(detail: string): number | null {
  const m = /^preview_width\b.*\bto (\d{2,5})\b/.exec(detail);
  return m ? Number(m[1]) : null;
}
