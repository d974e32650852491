// Collects an upload's body into one buffer, bounded in size (the route's body limit) and in time: a
// body still arriving `timeoutMs` after it started is refused with 408, so that producers trickling
// bytes cannot hold the upload slots.
import type { Readable } from 'node:stream';
import { Errors } from '../errors.js';

export interface BodyLimits {
  maxBytes: number;
  timeoutMs: number;
}

export function collectBody(payload: Readable, contentLength: number | undefined, limits: BodyLimits, done: (err: Error | null, body?: Buffer) => void): void {
  if (contentLength !== undefined && contentLength > limits.maxBytes) {
    done(new Errors.PAYLOAD_TOO_LARGE(`request body is larger than ${limits.maxBytes} bytes`));
    return;
  }
  const chunks: Buffer[] = [];
  let received = 0;
  const finish = (err: Error | null, body?: Buffer): void => {
    clearTimeout(timer);
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
  const timer = setTimeout(
    () => finish(new Errors.REQUEST_TIMEOUT(`request body did not arrive within ${limits.timeoutMs} ms (UPLOAD_BODY_TIMEOUT_MS)`)),
    limits.timeoutMs,
  );
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onError);
}
