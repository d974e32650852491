// What a viewer socket may ask for in its query: `max_fps`, `rendition`, `preview_width`, and on
// push sockets `wait` and `with_id` (`true` or `false`). A bad
// value refuses the socket with 400 BAD_REQUEST naming the parameter, before the upgrade; other
// query parameters (such as `token`) are not ours and are left alone.
import { Errors } from '../errors.js';

export const MIN_FPS = 0.2;
export const MAX_FPS = 30;
export const MIN_PREVIEW_WIDTH = 16;
export const DEFAULT_PREVIEW_WIDTH = 320;

export type Rendition = 'full' | 'preview';

export interface ViewerOptions {
  /** Frames per second per camera at most; null = every frame. */
  maxFps: number | null;
  rendition: Rendition;
  /** Width of previews (used with rendition 'preview'). */
  previewWidth: number;
  /** Push: a label without cameras keeps the socket open (instead of "No keys found" and a close). */
  wait: boolean;
  /** Push: each header ends with the frame's entry id. */
  withId: boolean;
}

/** A viewer with no parameters: every frame, as uploaded (the fan-out's own path). */
export function isFullRate(o: ViewerOptions): boolean {
  return o.maxFps === null && o.rendition === 'full';
}

const DECIMAL = /^(\d{1,6}(\.\d{0,6})?|\.\d{1,6})$/;
const INTEGER = /^\d{1,6}$/;

function bad(name: string, rule: string, raw: string): never {
  const shown = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
  throw new Errors.BAD_REQUEST(`${name} ${rule}, got ${JSON.stringify(shown)}`);
}

function single(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new Errors.BAD_REQUEST(`${name} must be given once`);
  return v;
}

function flag(query: Record<string, unknown>, name: string): boolean {
  const v = single(query, name);
  if (v === undefined) return false;
  if (v !== 'true' && v !== 'false') bad(name, 'must be "true" or "false"', v);
  return v === 'true';
}

/** Reads the viewer's options from a parsed query string; throws 400 BAD_REQUEST naming the parameter. */
export function parseViewerOptions(query: unknown, maxPreviewWidth: number): ViewerOptions {
  const q = (query ?? {}) as Record<string, unknown>;
  const opts: ViewerOptions = { maxFps: null, rendition: 'full', previewWidth: Math.min(DEFAULT_PREVIEW_WIDTH, maxPreviewWidth), wait: false, withId: false };

  const fps = single(q, 'max_fps');
  if (fps !== undefined) {
    const n = DECIMAL.test(fps) ? Number(fps) : NaN;
    if (!(n >= MIN_FPS && n <= MAX_FPS)) bad('max_fps', `must be a number from ${MIN_FPS} to ${MAX_FPS}`, fps);
    opts.maxFps = n;
  }
  const rendition = single(q, 'rendition');
  if (rendition !== undefined) {
    if (rendition !== 'full' && rendition !== 'preview') bad('rendition', 'must be "full" or "preview"', rendition);
    opts.rendition = rendition;
  }
  const width = single(q, 'preview_width');
  if (width !== undefined) {
    const n = INTEGER.test(width) ? Number(width) : NaN;
    if (!(n >= MIN_PREVIEW_WIDTH && n <= maxPreviewWidth)) {
      bad('preview_width', `must be a whole number of pixels from ${MIN_PREVIEW_WIDTH} to ${maxPreviewWidth}`, width);
    }
    opts.previewWidth = n;
  }
  opts.wait = flag(q, 'wait');
  opts.withId = flag(q, 'with_id');
  return opts;
}
