// Collects an upload's body into one buffer, bounded in size (the route's body limit) and in time: a
// body still arriving `timeoutMs` after it started is refused with 408, so that producers trickling
// bytes cannot hold the upload slots.
import type { Readable } from 'node:stream';
import { Errors } from '../errors.js';

/**
 * When each body being collected must have arrived: one sweep for all of them rather than a timer
 * set and cleared per upload (measured as 2% of the upload path). A late body is cut at most a
 * tenth of the timeout late (at least 10 ms, at most 1 s).
 */
export class BodyDeadlines {
  /** Expiry callbacks in insertion order, which is deadline order (one timeout for all). */
  private readonly due = new Map<() => void, number>();
  private readonly sweep: NodeJS.Timeout;

  constructor(readonly timeoutMs: number) {
    this.sweep = setInterval(() => this.expire(), Math.min(1000, Math.max(10, timeoutMs / 10)));
    this.sweep.unref();
  }

  start(onExpired: () => void): void {
    this.due.set(onExpired, Date.now() + this.timeoutMs);
  }

  stop(onExpired: () => void): void {
    this.due.delete(onExpired);
  }

  get size(): number {
    return this.due.size;
  }

  close(): void {
    clearInterval(this.sweep);
  }

  private expire(): void {
    const now = Date.now();
    for (const [onExpired, at] of this.due) {
      if (at > now) break;
      this.due.delete(onExpired);
      onExpired();
    }
  }
}

export interface BodyLimits {
  maxBytes: number;
  deadlines: BodyDeadlines;
}

export function collectBody(payload: Readable, contentLength: number | undefined, limits: BodyLimits, done: (err: Error | null, body?: Buffer) => void): void {
  if (contentLength !== undefined && contentLength > limits.maxBytes) {
    done(new Errors.PAYLOAD_TOO_LARGE(`request body is larger than ${limits.maxBytes} bytes`));
    return;
  }
  const chunks: Buffer[] = [];
  let received = 0;
  const finish = (err: Error | null, body?: Buffer): void => {
    limits.deadlines.stop(onLate);
    payload.off('data', onData);
    payload.off('end', onEnd);
    payload.off('error', onError);
    done(err, body);
  };
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    if (received > limits.maxBytes) finish(new Errors.PAYLOAD_TOO_LARGE(`request body is larger than ${limits.maxBytes} bytes`));
    else chunks.push(chunk);
  };
  // Always a copy: the image is kept as a view into the body, never into a socket's read buffer.
  const onEnd = (): void => finish(null, Buffer.concat(chunks, received));
  // The client went away or broke the framing mid-body.
  const onError = (): void => finish(new Errors.BAD_REQUEST('request body was cut off'));
  const onLate = (): void =>
    finish(new Errors.REQUEST_TIMEOUT(`request body did not arrive within ${limits.deadlines.timeoutMs} ms (UPLOAD_BODY_TIMEOUT_MS)`));
  limits.deadlines.start(onLate);
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onError);
}
