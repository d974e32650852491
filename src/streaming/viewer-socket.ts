// One viewer's outgoing side: a bounded, latest-wins queue in front of a WebSocket.
// A frame that fits under the limit of unsent bytes is sent as it comes. Otherwise only the newest
// frame of each camera is held (one buffer reference each, no copy) and sent as writes complete,
// so a slow viewer skips stale frames instead of growing a backlog, and never slows the others.
// A socket that completes no write for `stallMs` is closed with 1013.
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

export interface ViewerCounters {
  sent: number;
  skipped: number;
  stalled: number;
}

export class ViewerSocket {
  /** Newest unsent message per camera while the socket is over its limit. */
  private readonly pending = new Map<string, ViewerMessage>();
  /** When a write last completed (or the socket had nothing unsent). */
  private lastProgress = Date.now();
  private closing = false;
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
  ) {}

  /** Unsent bytes and frames held back: what this viewer costs the server right now. */
  get backlog(): { bufferedBytes: number; pendingFrames: number } {
    return { bufferedBytes: this.ws.bufferedAmount, pendingFrames: this.pending.size };
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

  private write(msg: ViewerMessage): void {
    this.counters.sent++;
    this.socket.write(msg.framed, this.onWritten);
  }

  /** Unsent bytes stay under the limit; a frame larger than the limit goes alone. */
  private fits(msg: ViewerMessage): boolean {
    const buffered = this.ws.bufferedAmount;
    return buffered === 0 || buffered + msg.framed.length <= this.limits.maxBufferBytes;
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
   * Called by the hub's timer: closes a socket that has had unsent bytes and completed no write for
   * stallMs. Progress is a completed write, not a lower bufferedAmount: a slow reader's TCP window
   * opens in bursts, and between bursts a flush of held-back frames can raise the count while the
   * socket is in fact moving.
   */
  checkStall(now: number): void {
    if (!this.open) return;
    if (this.ws.bufferedAmount === 0) this.lastProgress = now;
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
