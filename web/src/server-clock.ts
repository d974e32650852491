// The service's clock, seen from the browser: frame ages are measured against the time the store
// took each frame, and the two clocks may disagree. `skew` is how far the browser is ahead; every
// observation gives an upper bound on it (a reply's Date header is truncated to the second and a
// frame arrives after it was stored), so the smallest bound seen is kept.

export class ServerClock {
  private skew = Number.POSITIVE_INFINITY;

  constructor(private readonly now: () => number = Date.now) {}

  /** A reply's Date header, read when the reply arrived. */
  observeDateHeader(date: string | null): void {
    if (!date) return;
    const t = Date.parse(date);
    if (Number.isFinite(t)) this.bound(this.now() - t);
  }

  /** A frame stored at `storedMs` (server time) that arrived now. */
  observeFrame(storedMs: number): void {
    if (Number.isFinite(storedMs) && storedMs > 0) this.bound(this.now() - storedMs);
  }

  private bound(candidate: number): void {
    if (candidate < this.skew) this.skew = candidate;
  }

  /** The server's time now (the browser's when nothing was observed yet). */
  serverNow(): number {
    return this.now() - (Number.isFinite(this.skew) ? this.skew : 0);
  }
}

/** The store time of a stream entry id "<ms>-<seq>", or NaN. */
export function entryIdTime(id: unknown): number {
  if (typeof id !== 'string') return NaN;
  const m = /^(\d{10,16})-\d+$/.exec(id);
  return m ? Number(m[1]) : NaN;
}
