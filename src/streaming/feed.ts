// A feed: what a channel sends to the viewers that asked for a rate cap or a preview of one width
// (viewers without parameters do not use it: the hub writes every frame to them directly). It
// takes each camera's newest frame at most once per interval of its fastest member (or every
// frame, when a member has no cap), renders it once (its push message, or its preview at the
// feed's width) and offers that same message to every member, which applies its own cap
// (capped-viewer.ts). So a camera watched at 2 fps is resized twice a second, however many viewers
// watch it, and nothing is done per frame per viewer.
//
// Each camera is taken again one interval after it was last taken; if it has no new frame then,
// its next frame is taken as it comes (a camera slower than the cap loses no time). The first
// turns of cameras new to the feed are spread over the interval, so that a wall of 16 cameras is
// resized one camera at a time rather than 16 at once, the last one waiting for the other 15. One
// timer per feed, ticking `slices` times per interval.
import type { StoredFrame, FramePreview, ViewerMessage } from '../frames/frame.js';
import { previewPushMessage, pushMessageFor } from '../frames/wire.js';
import { compareIds } from '../frames/keys.js';
import type { PreviewMaker, PreviewSubscriber } from '../previews/maker.js';
import { TIMER_SLACK_MS, type CappedViewer } from './capped-viewer.js';

/** 'full', or the width of a preview. */
export type FeedRendition = 'full' | number;

/** Ticks are at least this far apart, and at most MAX_SLICES per interval. */
const MIN_TICK_MS = 25;
const MAX_SLICES = 16;

interface Camera {
  /** Order in which the feed first saw it: spreads first turns. */
  place: number;
  /** The frame last taken, when, and when the one before it was. */
  taken: StoredFrame;
  at: number;
  before: number;
  /** When it may be taken again; `waiting`: that time has come and found no new frame. */
  next: number;
  waiting: boolean;
}

export class Feed implements PreviewSubscriber {
  private readonly members = new Set<CappedViewer>();
  private readonly cameras = new Map<string, Camera>();
  private intervalMs = Infinity;
  private slices = 1;
  private timer: NodeJS.Timeout | null = null;
  active = true;

  constructor(
    /** The channel's newest frame of each camera. */
    private readonly latest: ReadonlyMap<string, StoredFrame>,
    readonly rendition: FeedRendition,
    private readonly previews: PreviewMaker,
    /** Its members asked for the entry id in each header (`with_id`). */
    private readonly withId = false,
  ) {}

  /**
   * Adds a viewer and sends it a frame of every camera at once: the newest when its message is
   * ready (always for full frames), else the one the feed took last (at most an interval old), so
   * that joining costs no resize. Only cameras new to the feed are taken now.
   */
  add(member: CappedViewer): void {
    this.members.add(member);
    this.retime();
    const now = performance.now();
    for (const f of this.latest.values()) {
      const c = this.cameras.get(f.key);
      if (!c) {
        this.first(f, now);
        continue;
      }
      const ready = this.made(f);
      if (ready) member.offer(f, ready, c.at);
      else {
        const last = this.made(c.taken);
        if (last) member.offer(c.taken, last, c.at);
        // else its preview is being made: every member gets it when it is
      }
    }
  }

  /** Removes a viewer; false when the feed has no member left (and is closed). */
  remove(member: CappedViewer): boolean {
    member.stop();
    this.members.delete(member);
    if (this.members.size === 0) {
      this.close();
      return false;
    }
    this.retime();
    return true;
  }

  close(): void {
    this.active = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const m of this.members) m.stop();
    this.members.clear();
  }

  /** A camera was removed: the feed forgets it, and its members are told. */
  forget(key: string, notice: string): void {
    this.cameras.delete(key);
    for (const m of this.members) {
      m.forget(key);
      m.viewer.notice(key, notice);
    }
  }

  /** A new frame of the channel: taken now when a member wants every frame, or its camera is waiting. */
  onFrame(frame: StoredFrame): void {
    const c = this.cameras.get(frame.key);
    if (this.intervalMs === 0) {
      if (c) this.take(c, frame, performance.now());
      else this.first(frame, performance.now());
    } else if (c?.waiting) this.take(c, frame, performance.now());
  }

  /**
   * A preview is made: of the frame last taken, of a newer one (asked for by another viewer of this
   * width), or of the one taken before, when it was made late. Members compare the times frames
   * were taken, not made, so that resizing times do not make them look early and held back.
   */
  deliver(frame: StoredFrame, preview: FramePreview): void {
    const c = this.cameras.get(frame.key);
    const at = !c ? performance.now() : compareIds(frame.id, c.taken.id) >= 0 ? c.at : c.before;
    this.offerAll(frame, previewPushMessage(frame, preview, this.withId), at);
  }

  /** Takes a camera new to the feed now; its next turn comes within one interval, spread by its place. */
  private first(frame: StoredFrame, at: number): void {
    const place = this.cameras.size;
    const c: Camera = { place, taken: frame, at, before: at, next: at, waiting: false };
    this.cameras.set(frame.key, c);
    this.take(c, frame, at);
    c.next = at + (this.intervalMs * ((place % this.slices) + 1)) / this.slices;
  }

  /** Renders a camera's frame for every member: at once for full frames, when made for previews. */
  private take(c: Camera, frame: StoredFrame, at: number): void {
    c.before = c.at;
    c.at = at;
    c.taken = frame;
    c.next = at + this.intervalMs;
    c.waiting = false;
    if (this.rendition === 'full') this.offerAll(frame, pushMessageFor(frame, this.withId), at);
    else this.previews.want(frame, this.rendition, this);
  }

  private offerAll(frame: StoredFrame, msg: ViewerMessage, at: number): void {
    for (const m of this.members) m.offer(frame, msg, at);
  }

  /** The frame's message for this feed, if it exists already. */
  private made(f: StoredFrame): ViewerMessage | null {
    if (this.rendition === 'full') return pushMessageFor(f, this.withId);
    const p = f.previews?.get(this.rendition);
    return p ? previewPushMessage(f, p, this.withId) : null;
  }

  /** Takes every camera whose turn has come; one with nothing new waits for its next frame. */
  private readonly tick = (): void => {
    const now = performance.now();
    for (const f of this.latest.values()) {
      const c = this.cameras.get(f.key);
      if (!c) this.first(f, now); // a camera that started after the feed did
      else if (!c.waiting && now >= c.next - TIMER_SLACK_MS) {
        if (c.taken !== f) this.take(c, f, now);
        else c.waiting = true;
      }
    }
  };

  /** The clock follows the fastest member. */
  private retime(): void {
    let interval = Infinity;
    for (const m of this.members) interval = Math.min(interval, m.intervalMs);
    if (interval === this.intervalMs) return;
    this.intervalMs = interval;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.slices = 1;
    if (interval > 0 && interval < Infinity) {
      this.slices = Math.max(1, Math.min(MAX_SLICES, Math.floor(interval / MIN_TICK_MS)));
      this.timer = setInterval(this.tick, interval / this.slices).unref();
    }
    for (const c of this.cameras.values()) c.next = c.at + (interval === Infinity ? 0 : interval);
  }
}
