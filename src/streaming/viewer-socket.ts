// One viewer's outgoing side: a bounded, latest-wins queue in front of a WebSocket.
// A frame that fits under the viewer's budget of unsent bytes is sent as it comes. Otherwise only
// the newest frame of each camera is held (one buffer reference each, no copy) and sent as writes
// complete, so a slow viewer skips stale frames instead of growing a backlog, and never slows the
// others. A socket that completes no write for `stallMs` is closed with 1013.
//
// The budget is `maxBufferBytes` while the viewer keeps up. One that stays behind gets about one
// second of what it actually drains: unsent bytes are frames it will see late, so at 100 KB/s a
// 1 MiB budget would show it frames 10 s old, and one second of its pace shows them about 1 s old
// (plus what the kernel holds, see tcp-tuning.ts), with more skipped in between.
//
// Frames are written to the TCP socket as ready-made WebSocket frames (frames/ws-frame.ts), the
// same buffer for every viewer. That is safe beside ws's own writes (pong, close) because each is
// a whole frame written synchronously: with permessage-deflate off (app.ts), ws queues nothing.
// Only while the socket is open and not closing, so ws's close frame is always the last.
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { ViewerMessage } from '../frames/frame.js';
import { Close, CloseReason } from '../errors.js';

export interface ViewerLimits {
  maxBufferBytes: number;
  stallMs: number;
}

/** How much of its own drain rate a viewer that stays behind may have unsent. */
const BEHIND_BUDGET_SECONDS = 1;

export interface ViewerCounters {
  sent: number;
  skipped: number;
  stalled: number;
}

export class ViewerSocket {
  /** Newest unsent message per camera while the socket is over its budget. */
  private readonly pending = new Map<string, ViewerMessage>();
  /** When a write last completed (or the socket had nothing unsent). */
  private lastProgress = Date.now();
  private closing = false;
  /** Unsent bytes allowed now: maxBufferBytes, or about a second of its pace for one behind. */
  private budget: number;
  /** Bytes written to the socket by this queue, and the drain and time at the last tick. */
  private written = 0;
  private drainedAtTick = 0;
  private tickAt = Date.now();
  private behindAtTick = false;
  /** One bound callback per viewer, reused for every write (no per-frame closure). */
  private readonly onWritten = (): void => {
    this.lastProgress = Date.now();
    if (this.pending.size > 0) this.flush();
  };

  constructor(
    readonly ws: WebSocket,
    private readonly socket: Socket,
    private readonly limits: ViewerLimits,
    private readonly counters: ViewerCounters,
  ) {
    this.budget = limits.maxBufferBytes;
  }

  /** Unsent bytes, frames held back and the current budget: what this viewer costs the server now. */
  get backlog(): { bufferedBytes: number; pendingFrames: number; budgetBytes: number } {
    return { bufferedBytes: this.ws.bufferedAmount, pendingFrames: this.pending.size, budgetBytes: this.budget };
  }

  get open(): boolean {
    return this.ws.readyState === 1 && !this.closing;
  }

  /** Offers the newest message of a camera. */
  offer(camera: string, msg: ViewerMessage): void {
    if (!this.open) return;
    if (this.pending.size === 0 && this.fits(msg)) {
      this.write(msg);
      return;
    }
    if (this.pending.has(camera)) this.counters.skipped++;
    this.pending.set(camera, msg);
  }

  /** Tells the viewer something about a camera (a text message), dropping its held frame. */
  notice(camera: string, text: string): void {
    this.pending.delete(camera);
    if (this.open) this.ws.send(text);
  }

  private write(msg: ViewerMessage): void {
    this.counters.sent++;
    this.written += msg.framed.length;
    this.socket.write(msg.framed, this.onWritten);
  }

  /** Unsent bytes stay within the budget; a frame larger than the budget goes alone. */
  private fits(msg: ViewerMessage): boolean {
    const buffered = this.ws.bufferedAmount;
    return buffered === 0 || buffered + msg.framed.length <= this.budget;
  }

  /** Sends held-back frames as far as they fit; the rest wait for the next completed write. */
  private flush(): void {
    for (const [camera, msg] of this.pending) {
      if (!this.open || !this.fits(msg)) return;
      this.pending.delete(camera);
      this.write(msg);
    }
  }

  /**
   * Called by the hub's timer (every second or less). Sets the budget from the pace of a viewer
   * that was behind at this tick and the last, and closes a socket that has had unsent bytes and
   * completed no write for stallMs. Progress is a completed write, not a lower bufferedAmount: a
   * slow reader's TCP window opens in bursts, and between bursts a flush of held-back frames can
   * raise the count while the socket is in fact moving.
   */
  tick(now: number): void {
    if (!this.open) return;
    const unsent = this.ws.bufferedAmount;
    const drained = this.written - unsent; // bytes the kernel took: writes complete in order
    const behind = unsent > 0 || this.pending.size > 0;
    if (!behind) this.budget = this.limits.maxBufferBytes;
    else if (this.behindAtTick && now > this.tickAt) {
      // Averaged with the last budget: writes complete in bursts (Node writes the frames queued
      // behind a pending write as one writev), so one interval may see none complete.
      const pace = ((drained - this.drainedAtTick) * 1000) / (now - this.tickAt);
      const target = Math.min(this.limits.maxBufferBytes, pace * BEHIND_BUDGET_SECONDS);
      this.budget = Math.round((this.budget + target) / 2);
    }
    this.behindAtTick = behind;
    this.drainedAtTick = drained;
    this.tickAt = now;

    if (unsent === 0) this.lastProgress = now;
    else if (now - this.lastProgress >= this.limits.stallMs) {
      this.counters.stalled++;
      this.close(Close.TRY_AGAIN_LATER, CloseReason.TOO_SLOW);
    }
  }

  /** Closes with a code; a peer that cannot even take the close frame is cut off after a second. */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.pending.clear();
    if (this.ws.readyState === 1 || this.ws.readyState === 0) {
      this.ws.close(code, reason);
      setTimeout(() => this.ws.terminate(), 1000).unref();
    }
  }
}
