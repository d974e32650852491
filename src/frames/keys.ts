// The old backend's Redis key layout: stream_frame:{b64(label)}|{b64(key)}, URL-safe base64 with `=`
// padding (Python's base64.urlsafe_b64encode). Kept exactly so either backend reads the other's streams.

export const STREAM_PREFIX = 'stream_frame:';
export const STREAM_PATTERN = `${STREAM_PREFIX}*`;

/** URL-safe base64 with padding, as the layout encodes labels and keys. */
export function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

function unb64(s: string): string | null {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(s) || s.length % 4 !== 0) return null;
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
}

export function streamKey(label: string, key: string): string {
  return `${STREAM_PREFIX}${b64(label)}|${b64(key)}`;
}

/** The label and camera of a stream key, or null when the key is not in the layout. */
export function parseStreamKey(redisKey: string): { label: string; key: string } | null {
  if (!redisKey.startsWith(STREAM_PREFIX)) return null;
  const rest = redisKey.slice(STREAM_PREFIX.length);
  const bar = rest.indexOf('|');
  if (bar < 0) return null;
  const label = unb64(rest.slice(0, bar));
  const key = unb64(rest.slice(bar + 1));
  if (label === null || key === null || label === '' || key === '') return null;
  return { label, key };
}

/** Orders stream entry ids ("ms-seq"): negative when a < b. */
export function compareIds(a: string, b: string): number {
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  const ma = Number(a.slice(0, da));
  const mb = Number(b.slice(0, db));
  if (ma !== mb) return ma < mb ? -1 : 1;
  const sa = Number(a.slice(da + 1));
  const sb = Number(b.slice(db + 1));
  return sa === sb ? 0 : sa < sb ? -1 : 1;
}

/** Milliseconds since the epoch at which an entry id was made. */
export function idTime(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

/** The id just before `id`: an XREAD from it returns `id` itself and what follows. */
export function previousId(id: string): string {
  const d = id.indexOf('-');
  const ms = id.slice(0, d);
  const seq = BigInt(id.slice(d + 1));
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  if (ms === '0') return '0-0';
  return `${Number(ms) - 1}-18446744073709551615`;
}
