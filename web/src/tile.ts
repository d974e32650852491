// One camera on screen. Frames are handled latest-wins and decoded at most once: a new frame
// replaces the undecoded one (never a queue), decoding runs only while the tile is on screen and
// the tab is visible, one decode at a time, and each decoded bitmap is drawn at the next animation
// frame and released (close()) when a newer one replaces it.
import { clock } from './api.js';
import { h } from './dom.js';
import { drawFrame } from './draw.js';
import { formatAge, formatTime, lookup, t } from './i18n.js';
import { stats } from './stats.js';
import { formatWarnings, type WarningText } from './warnings.js';
import { parseDetections, VIOLATION_CLASSES } from './overlay.js';
import type { FrameHeader } from './wire.js';

/** A camera without a new frame this long is shown offline. */
export const OFFLINE_AFTER_MS = 5000;

interface Decoded {
  bitmap: ImageBitmap;
  header: FrameHeader;
  bytes: number;
}

function track(b: ImageBitmap): Decoded['bytes'] {
  const bytes = b.width * b.height * 4;
  stats.bitmapsLive++;
  stats.bitmapBytes += bytes;
  return bytes;
}

function release(d: Decoded | null): void {
  if (!d) return;
  d.bitmap.close();
  stats.bitmapsLive--;
  stats.bitmapBytes -= d.bytes;
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
  private readonly list: HTMLElement;
  private readonly resize: ResizeObserver;

  private pending: { header: FrameHeader; blob: Blob } | null = null;
  private decoding = false;
  private ready: Decoded | null = null;
  private shown: Decoded | null = null;
  private drawQueued = false;
  private destroyed = false;
  private visible: boolean;
  private paused = false;
  private header: FrameHeader | null = null;

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
    this.list = h('ul', { class: 'tile-warnings' });
    this.el = h(
      'article',
      { class: opts.large ? 'tile tile-large' : 'tile', dataset: { camera, state: 'waiting', alarm: 'false' } },
      h('div', { class: 'tile-media' }, this.canvas),
      h('div', { class: 'tile-bar' }, h('span', { class: 'tile-name' }, camera), this.badge, this.age),
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

  /** A new frame: replaces any frame not decoded yet. `storedMs`: when the store took it (server clock). */
  accept(header: FrameHeader, image: Uint8Array, storedMs: number): void {
    stats.received++;
    if (this.pending) stats.skipped++;
    this.pending = { header, blob: new Blob([image as Uint8Array<ArrayBuffer>]) };
    this.lastFrameAt = Number.isFinite(storedMs) ? storedMs : clock.serverNow();
    // Words and alarm follow every frame, decoded or not (a tile off screen still knows its state).
    this.header = header;
    this.renderWarnings();
    this.tick(clock.serverNow());
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
    createImageBitmap(p.blob).then(
      (bitmap) => {
        const t0 = performance.now();
        this.decoding = false;
        stats.decoded++;
        const d: Decoded = { bitmap, header: p.header, bytes: track(bitmap) };
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
        this.badge.textContent = t('tile.bad_image');
        this.pump();
      },
    );
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
    drawFrame(this.ctx, s.bitmap, s.header, lookup, dpr);
  }

  /** The newest frame's warnings as words, and the alarm state (warnings or a violation box). */
  private renderWarnings(): void {
    const header = this.header;
    if (!header) return;
    this.warnings = formatWarnings(header.warnings, lookup);
    this.alarm = this.warnings.length > 0 || parseDetections(header.detection_items).some((d) => VIOLATION_CLASSES.has(d.classId));
    const items = this.warnings.map((w) => h('li', { class: 'warning', title: w.label }, w.sentence));
    this.list.replaceChildren(...items);
    this.el.dataset.alarm = String(this.alarm);
  }

  /** Updates the age, the offline mark and the badge (the wall calls it every second). */
  tick(serverNow: number): void {
    if (!Number.isFinite(this.lastFrameAt)) return;
    const ago = serverNow - this.lastFrameAt;
    this.offline = ago > OFFLINE_AFTER_MS;
    this.age.textContent = t('tile.age', { age: formatAge(ago) });
    let state: string;
    if (this.offline) {
      state = 'offline';
      this.badge.textContent = t('tile.offline', { time: formatTime(this.lastFrameAt) });
    } else if (this.alarm) {
      state = 'alarm';
      this.badge.textContent = t('tile.alarm');
    } else {
      state = 'live';
      this.badge.textContent = t('tile.live');
    }
    this.el.dataset.state = state;
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
