// A viewer with a rate cap or a preview rendition, as a member of a feed (feed.ts). It remembers
// what each camera last sent it, so it never gets an older frame or the same one twice, and sends
// each camera at most once per interval after the first (the one it gets on connect, which
// starts no interval: the next comes at the camera's next turn in the feed, so that every viewer
// of a feed follows the feed's turns). A frame that comes too soon is held (one per camera,
// replaced by newer ones: latest wins) and sent as soon as the interval has passed, so the last
// frame of a burst always arrives within one interval. One timer per viewer, armed only while it
// holds a frame.
import type { StoredFrame, ViewerMessage } from '../frames/frame.js';
import { compareIds } from '../frames/keys.js';
import type { ViewerSocket } from './viewer-socket.js';

/** Timer jitter: times one interval apart may be measured this much closer. */
export const TIMER_SLACK_MS = 2;

interface Held {
  id: string;
  msg: ViewerMessage;
}

export class CappedViewer {
  private readonly sentId = new Map<string, string>();
  private readonly sentAt = new Map<string, number>();
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | null = null;
  private timerDue = Infinity;

  /** intervalMs: 1000 / max_fps, or 0 for no cap. */
  constructor(readonly viewer: ViewerSocket, readonly intervalMs: number) {}

  /** Offers a camera's frame, `at` the time (performance.now) its feed took it. */
  offer(frame: StoredFrame, msg: ViewerMessage, at: number): void {
    if (!this.viewer.open) return;
    const cam = frame.key;
    const last = this.sentId.get(cam);
    if (last !== undefined && compareIds(frame.id, last) <= 0) return;
    const held = this.held.get(cam);
    if (held && compareIds(frame.id, held.id) <= 0) return;
    const due = this.due(cam);
    if (at >= due) {
      this.held.delete(cam);
      this.send(cam, frame.id, msg, at);
      return;
    }
    this.held.set(cam, { id: frame.id, msg });
    this.arm(due);
  }

  /** Forgets a removed camera: a frame of it is never held, and a new one is sent at once. */
  forget(cam: string): void {
    this.held.delete(cam);
    this.sentId.delete(cam);
    this.sentAt.delete(cam);
  }

  /** Stops the timer and lets go of held frames (the socket closed). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.held.clear();
  }

  /** When the camera may be sent again; a camera never sent may be sent at once. */
  private due(cam: string): number {
    const at = this.sentAt.get(cam);
    return at === undefined ? -Infinity : at + this.intervalMs - TIMER_SLACK_MS;
  }

  private send(cam: string, id: string, msg: ViewerMessage, at: number): void {
    if (this.sentId.has(cam)) this.sentAt.set(cam, at);
    this.sentId.set(cam, id);
    this.viewer.offer(cam, msg);
  }

  private arm(due: number): void {
    if (this.timer && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(this.release, Math.max(0, due - performance.now())).unref();
  }

  /** Sends the held frames that are due, and waits for the next. */
  private readonly release = (): void => {
    this.timer = null;
    this.timerDue = Infinity;
    if (!this.viewer.open) return this.held.clear();
    const now = performance.now();
    let next = Infinity;
    for (const [cam, h] of this.held) {
      const due = this.due(cam);
      if (now >= due) {
        this.held.delete(cam);
        this.send(cam, h.id, h.msg, now);
      } else next = Math.min(next, due);
    }
    if (next < Infinity) this.arm(next);
  };
}
