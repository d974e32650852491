// One viewer's outgoing side: a bounded, latest-wins queue in front of a WebSocket.
// A frame that fits under the limit of unsent bytes (ws.bufferedAmount) is sent as it comes.
// Otherwise only the newest frame of each camera is held (one buffer reference each, no copy) and
// sent as writes complete, so a slow viewer skips stale frames instead of growing a backlog, and
// never slows the others. A socket that completes no write for `stallMs` is closed with 1013.
import type { WebSocket } from 'ws';
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
  private readonly pending = new Map<string, Buffer>();
  /** When a write last completed (or the socket had nothing unsent). */
  private lastProgress = Date.now();
  private closing = false;
  /** One bound callback per viewer, reused for every send (no per-frame closure). */
  private readonly onWritten = (): void => {
    this.lastProgress = Date.now();
    if (this.pending.size > 0) this.flush();
  };

  constructor(
    readonly ws: WebSocket,
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
  offer(camera: string, msg: Buffer): void {
    if (!this.open) return;
    if (this.pending.size === 0 && this.fits(msg)) {
      this.counters.sent++;
      this.ws.send(msg, this.onWritten);
      return;
    }
    if (this.pending.has(camera)) this.counters.skipped++;
    this.pending.set(camera, msg);
  }

  /** Unsent bytes stay under the limit; a frame larger than the limit goes alone. */
  private fits(msg: Buffer): boolean {
    const buffered = this.ws.bufferedAmount;
    return buffered === 0 || buffered + msg.length <= this.limits.maxBufferBytes;
  }

  /** Sends held-back frames as far as they fit; the rest wait for the next completed write. */
  private flush(): void {
    for (const [camera, msg] of this.pending) {
      if (!this.fits(msg)) return;
      this.pending.delete(camera);
      this.counters.sent++;
      this.ws.send(msg, this.onWritten);
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
