// How webhook requests are signed (README "Webhooks" shows a receiver's check): HMAC-SHA256 with the
// webhook's secret over "<timestamp>.<body>", sent as `X-Framestream-Signature: sha256=<hex>` beside
// `X-Framestream-Timestamp: <unix seconds>`. Signing the timestamp with the body lets a receiver
// refuse a replayed request: one whose timestamp is too old, however valid its signature.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-framestream-signature';
export const TIMESTAMP_HEADER = 'x-framestream-timestamp';
export const DELIVERY_HEADER = 'x-framestream-delivery';
export const EVENT_HEADER = 'x-framestream-event';

export function signature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** A receiver's check: the signature matches and the timestamp is within `toleranceSec` of now. */
export function verifySignature(secret: string, timestamp: string, body: string, sig: string, toleranceSec = 300, nowSec = Date.now() / 1000): boolean {
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowSec - Number(timestamp)) > toleranceSec) return false;
  const expected = Buffer.from(signature(secret, Number(timestamp), body));
  const given = Buffer.from(sig);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
