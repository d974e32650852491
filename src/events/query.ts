// Query values of the events and webhooks API (strings: the app does not coerce types).
import { Errors } from '../errors.js';

/** An ISO 8601 date-time or epoch milliseconds, as epoch ms. */
export function parseTime(v: string | undefined, field: string): number | undefined {
  if (v === undefined) return undefined;
  const ms = /^\d{1,15}$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new Errors.VALIDATION(`${field} must be an ISO 8601 date-time or epoch milliseconds`);
  return ms;
}

export function parseLimit(v: string | undefined, def: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Errors.VALIDATION(`limit must be between 1 and ${max}`);
  return n;
}
