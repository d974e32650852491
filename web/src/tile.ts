// One camera on screen. Frames are handled latest-wins and decoded at most once: a new frame
// replaces the undecoded one (never a queue), decoding runs only while the tile is on screen and
// the tab is visible, one decode at a time (off the main thread, decode.ts), and each decoded image
// is drawn at the next animation frame and released (close()) when a newer one replaces it.
import { clock } from './api.js';
import { h } from './dom.js';
import { decodeImage, type DecodedImage, type DecodeSize } from './decode.js';
import { drawFrame } from './draw.js';
import { formatAge, formatTime, lookup, t } from './i18n.js';
import { stats } from './stats.js';
import { formatWarnings, type WarningText } from './warnings.js';
import { frameSpace, letterbox, parseDetections, VIOLATION_CLASSES } from './overlay.js';
import type { FrameHeader } from './wire.js';

/** A camera without a new frame this long is shown offline. */
export const OFFLINE_AFTER_MS = 5000;

interface Decoded {
  image: DecodedImage;
  header: FrameHeader;
}

function track(d: DecodedImage): void {
  stats.bitmapsLive++;
  stats.bitmapBytes += d.bytes;
}

function release(d: Decoded | null): void {
  if (!d) return;
  d.image.close();
  stats.bitmapsLive--;
  stats.bitmapBytes -= d.image.bytes;
}

/** Writes only changes: an unchanged text or attribute costs no style or layout work. */
function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

function setData(el: HTMLElement, key: string, value: string): void {
  if (el.dataset[key] !== value) el.dataset[key] = value;
}

export interface TileOptions {
  large?: boolean;
  /** Not decoded until setVisible(true): the wall's IntersectionObserver reports it on screen. */
  startHidden?: boolean;
  /** Asked to open this camera large (a click or Enter on the tile). */
  onOpen?: (camera: string) => void;
  /** A frame was drawn (the large view pulls the next one then). */
  onDrawn?: () => void;
}

export class Tile {
  readonly el: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly badge: HTMLElement;
  private readonly age: HTMLElement;
  private readonly feed: HTMLElement;
  private readonly list: HTMLElement;
  private readonly resize: ResizeObserver;

  private pending: { header: FrameHeader; image: Uint8Array } | null = null;
  private decoding = false;
  private ready: Decoded | null = null;
  private shown: Decoded | null = null;
  private drawQueued = false;
  private destroyed = false;
  private visible: boolean;
  private paused = false;
  private header: FrameHeader | null = null;
  /** Width of the images the feed sends at most (previews), or null for the originals. */
  private imageWidth: number | null = null;
  private imageBytes = -1;

  /** Store time (server clock) of the newest frame received. */
  lastFrameAt = Number.NaN;
  offline = false;
  alarm = false;
  private warnings: WarningText[] = [];

  constructor(readonly camera: string, private readonly opts: TileOptions = {}) {
    this.visible = !opts.startHidden;
    this.canvas = h('canvas', { class: 'tile-canvas' });
    this.ctx = this.canvas.getContext('2d', { alpha: false })!;
    this.badge = h('span', { class: 'badge' }, t('tile.waiting'));
    this.age = h('span', { class: 'tile-age' });
    this.feed = h('span', { class: 'tile-feed' });
    this.list = h('ul', { class: 'tile-warnings' });
    this.el = h(
      'article',
      { class: opts.large ? 'tile tile-large' : 'tile', dataset: { camera, state: 'waiting', alarm: 'false' } },
      h('div', { class: 'tile-media' }, this.canvas),
      h('div', { class: 'tile-bar' }, h('span', { class: 'tile-name' }, camera), this.badge, this.age, this.feed),
      this.list,
    );
    if (opts.onOpen) {
      const open = opts.onOpen;
      this.el.tabIndex = 0;
      this.el.setAttribute('role', 'button');
      this.el.setAttribute('aria-label', t('tile.open', { camera }));
      this.el.addEventListener('click', () => open(camera));
      this.el.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          open(camera);
        }
      });
    }
    this.resize = new ResizeObserver(() => this.render());
    this.resize.observe(this.canvas);
  }

  /** Width the picture is shown at, in CSS pixels. */
  get pictureWidth(): number {
    return this.canvas.clientWidth;
  }

  /** What the feed sends this tile (e.g. "Preview 320 px · 2 fps"), with why in the tooltip. */
  setFeed(text: string, why: string, imageWidth: number | null): void {
    setText(this.feed, text);
    if (this.feed.title !== why) this.feed.title = why;
    this.imageWidth = imageWidth;
  }

  /** A new frame: replaces any frame not decoded yet. `storedMs`: when the store took it (server clock). */
  accept(header: FrameHeader, image: Uint8Array, storedMs: number): void {
    stats.received++;
    // A reopened socket (another preview size or rate) starts with the newest frame again: the
    // same frame in the same size is not decoded twice.
    if (header.id !== undefined && header.id === this.header?.id && image.length === this.imageBytes) {
      this.opts.onDrawn?.(); // already shown: the large view asks for the next one
      return;
    }
    this.imageBytes = image.length;
    if (this.pending) stats.skipped++;
    this.pending = { header, image };
    this.lastFrameAt = Number.isFinite(storedMs) ? storedMs : clock.serverNow();
    // Words and alarm follow every frame, decoded or not (a tile off screen still knows its state);
    // the DOM is touched only when they change, not 10 times a second.
    const changed = !this.header || this.header.warnings !== header.warnings || this.header.detection_items !== header.detection_items;
    this.header = header;
    if (changed) this.renderWarnings();
    if (changed || this.offline || this.el.dataset.state === 'waiting') this.tick(clock.serverNow());
    this.pump();
  }

  setVisible(v: boolean): void {
    this.visible = v;
    this.pump();
  }

  setPaused(p: boolean): void {
    this.paused = p;
    this.pump();
  }

  private canDecode(): boolean {
    return this.visible && !this.paused && document.visibilityState === 'visible';
  }

  /** Starts decoding the newest undecoded frame, if allowed and none is being decoded. */
  pump(): void {
    if (this.decoding || !this.pending || !this.canDecode() || this.destroyed) return;
    const p = this.pending;
    this.pending = null;
    this.decoding = true;
    decodeImage(p.image, this.decodeSize(p.header)).then(
      (image) => {
        const t0 = performance.now();
        this.decoding = false;
        stats.decoded++;
        track(image);
        const d: Decoded = { image, header: p.header };
        if (this.destroyed) return release(d);
        if (this.ready) {
          stats.skipped++;
          release(this.ready);
        }
        this.ready = d;
        this.queueDraw();
        stats.busyMs += performance.now() - t0;
        this.pump();
      },
      () => {
        this.decoding = false;
        stats.decodeErrors++;
        setText(this.badge, t('tile.bad_image'));
        this.opts.onDrawn?.(); // done with this frame all the same: the large view pulls the next
        this.pump();
      },
    );
  }

  /**
   * Decode straight to the size the frame is shown at, when the frame's size is known from its
   * header: scaling happens in the decoder (off the main thread) and the bitmap holds only the
   * pixels shown. Without a size in the header the image's own size is the overlay space, so it
   * is decoded as it is.
   */
  private decodeSize(header: FrameHeader): DecodeSize | undefined {
    const space = frameSpace(header.width, header.height, { width: 0, height: 0 });
    const dpr = window.devicePixelRatio || 1;
    const fit = letterbox(space, { width: this.canvas.clientWidth * dpr, height: this.canvas.clientHeight * dpr });
    const width = Math.round(fit.width);
    // Previews come at most imageWidth wide: a larger size would only make the decoder scale up.
    const widest = Math.min(space.width, this.imageWidth ?? Infinity);
    if (space.width === 0 || width < 1 || width >= widest) return undefined;
    return { width, height: Math.max(1, Math.round(fit.height)) };
  }

  private queueDraw(): void {
    if (this.drawQueued) return;
    this.drawQueued = true;
    requestAnimationFrame(() => {
      this.drawQueued = false;
      if (!this.ready || this.destroyed) return;
      const t0 = performance.now();
      release(this.shown);
      this.shown = this.ready;
      this.ready = null;
      this.render();
      this.tick(clock.serverNow()); // a cheap no-op unless the badge changes (e.g. after a bad frame)
      stats.drawn++;
      stats.busyMs += performance.now() - t0;
      this.opts.onDrawn?.();
    });
  }

  /** Draws the shown frame at the canvas's current size (also after a resize or a language switch). */
  render(): void {
    const s = this.shown;
    if (!s || this.destroyed) return;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.canvas.clientWidth * dpr));
    const hgt = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
    if (this.canvas.width !== w || this.canvas.height !== hgt) {
      this.canvas.width = w;
      this.canvas.height = hgt;
    }
    drawFrame(this.ctx, s.image.image, s.image, s.header, lookup, dpr);
  }

  /** The newest frame's warnings as words, and the alarm state (warnings or a violation box). */
  private renderWarnings(): void {
    const header = this.header;
    if (!header) return;
    this.warnings = formatWarnings(header.warnings, lookup);
    this.alarm = this.warnings.length > 0 || parseDetections(header.detection_items).some((d) => VIOLATION_CLASSES.has(d.classId));
    const sentences = this.warnings.map((w) => w.sentence);
    const shown = [...this.list.children].map((li) => li.textContent);
    if (sentences.join('\n') !== shown.join('\n')) {
      this.list.replaceChildren(...this.warnings.map((w) => h('li', { class: 'warning', title: w.label }, w.sentence)));
    }
    setData(this.el, 'alarm', String(this.alarm));
  }

  /** Updates the age, the offline mark and the badge (the wall calls it every second). */
  tick(serverNow: number): void {
    if (!Number.isFinite(this.lastFrameAt)) return;
    const ago = serverNow - this.lastFrameAt;
    this.offline = ago > OFFLINE_AFTER_MS;
    setText(this.age, ago < 1000 ? t('age.now') : t('tile.age', { age: formatAge(ago) })); // "just now", not "just now ago"
    let state: string;
    if (this.offline) {
      state = 'offline';
      setText(this.badge, t('tile.offline', { time: formatTime(this.lastFrameAt) }));
    } else if (this.alarm) {
      state = 'alarm';
      setText(this.badge, t('tile.alarm'));
    } else {
      state = 'live';
      setText(this.badge, t('tile.live'));
    }
    setData(this.el, 'state', state);
  }

  relabel(): void {
    if (this.opts.onOpen) this.el.setAttribute('aria-label', t('tile.open', { camera: this.camera }));
    this.render();
    this.renderWarnings();
    this.tick(clock.serverNow());
  }

  destroy(): void {
    this.destroyed = true;
    this.resize.disconnect();
    this.pending = null;
    release(this.ready);
    release(this.shown);
    this.ready = this.shown = null;
    this.el.remove();
  }
}
