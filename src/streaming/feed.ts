// A feed: what a channel sends to the viewers that asked for a rate cap or a preview of one width
// (viewers without parameters do not use it: the hub writes every frame to them directly). Its
// clock runs at its fastest member's rate, or with every frame when a member has no cap. At each
// tick it takes the newest frame of each camera that changed, renders it once (its push message,
// or its preview at the feed's width) and offers that same message to every member, which applies
// its own cap (capped-viewer.ts). So a camera watched at 2 fps is resized twice a second, however
// many viewers watch it, and nothing is done per frame per viewer. One timer per feed.
import type { StoredFrame, FramePreview, ViewerMessage } from '../frames/frame.js';
import { previewPushMessage, pushMessage } from '../frames/wire.js';
import type { PreviewMaker, PreviewSubscriber } from '../previews/maker.js';
import type { CappedViewer } from './capped-viewer.js';

/** 'full', or the width of a preview. */
export type FeedRendition = 'full' | number;

export class Feed implements PreviewSubscriber {
  private readonly members = new Set<CappedViewer>();
  /** The frame last taken of each camera, and when. */
  private readonly taken = new Map<string, StoredFrame>();
  private readonly takenAt = new Map<string, number>();
  private intervalMs = Infinity;
  private timer: NodeJS.Timeout | null = null;
  active = true;

  constructor(
    /** The channel's newest frame of each camera. */
    private readonly latest: ReadonlyMap<string, StoredFrame>,
    readonly rendition: FeedRendition,
    private readonly previews: PreviewMaker,
  ) {}

  /** True when some member takes every frame: the hub hands it each one. */
  get everyFrame(): boolean {
    return this.intervalMs === 0;
  }

  get size(): number {
    return this.members.size;
  }

  /** Adds a viewer and sends it the newest frame of every camera at once. */
  add(member: CappedViewer): void {
    this.members.add(member);
    this.retime();
    const now = performance.now();
    for (const f of this.latest.values()) {
      if (this.taken.get(f.key) !== f) this.take(f, now);
      else {
        const msg = this.made(f);
        if (msg) member.offer(f, msg, now);
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

  /** Renders a camera's frame for every member: at once for full frames, when made for previews. */
  take(frame: StoredFrame, at: number): void {
    this.taken.set(frame.key, frame);
    this.takenAt.set(frame.key, at);
    if (this.rendition === 'full') this.offerAll(frame, pushMessage(frame), at);
    else this.previews.want(frame, this.rendition, this);
  }

  /** A preview is made (of the frame taken, or of a newer one). */
  deliver(frame: StoredFrame, preview: FramePreview): void {
    this.offerAll(frame, previewPushMessage(frame, preview), this.takenAt.get(frame.key) ?? performance.now());
  }

  private offerAll(frame: StoredFrame, msg: ViewerMessage, at: number): void {
    for (const m of this.members) m.offer(frame, msg, at);
  }

  /** The frame's message for this feed, if it exists already. */
  private made(f: StoredFrame): ViewerMessage | null {
    if (this.rendition === 'full') return pushMessage(f);
    const p = f.previews?.get(this.rendition);
    return p ? previewPushMessage(f, p) : null;
  }

  private readonly tick = (): void => {
    const at = performance.now();
    for (const f of this.latest.values()) if (this.taken.get(f.key) !== f) this.take(f, at);
  };

  /** The clock follows the fastest member. */
  private retime(): void {
    let interval = Infinity;
    for (const m of this.members) interval = Math.min(interval, m.intervalMs);
    if (interval === this.intervalMs) return;
    this.intervalMs = interval;
    if (this.timer) clearInterval(this.timer);
    this.timer = interval > 0 && interval < Infinity ? setInterval(this.tick, interval).unref() : null;
  }
}
