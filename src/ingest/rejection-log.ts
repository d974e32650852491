// Rejected uploads, logged at `warn` once each with who, what and why, so that an operator sees a
// producer that sends bad frames. Rate-limited per producer: a broken producer sending 30 bad
// frames a second gets `perWindow` lines a window, then one line saying how many more there were.
import type { Logger } from '../lib/log.js';
import { Lru } from '../lib/lru.js';

export interface Rejection {
  /** The producer's username, or null when it was not authenticated. */
  user: string | null;
  address: string;
  via: 'POST /frames' | 'WS /ws/frames';
  label?: unknown;
  key?: unknown;
  code: string;
  detail: string;
}

export interface RejectionLogOptions {
  perWindow: number;
  windowMs: number;
  /** Producers counted at once (least recently rejected forgotten first). */
  maxProducers: number;
}

const DEFAULTS: RejectionLogOptions = { perWindow: 5, windowMs: 60_000, maxProducers: 10_000 };
/** Labels and keys are logged, but not at any length. */
const SHOWN_CHARS = 120;

function shown(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  return s.length > SHOWN_CHARS ? `${s.slice(0, SHOWN_CHARS)}…` : s;
}

export class RejectionLog {
  private readonly opts: RejectionLogOptions;
  private readonly counts: Lru<string, { logged: number; suppressed: number; user: string | null; address: string }>;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly log: Logger, opts: Partial<RejectionLogOptions> = {}) {
    this.opts = { ...DEFAULTS, ...opts };
    this.counts = new Lru(this.opts.maxProducers);
    this.timer = setInterval(() => this.endWindow(), this.opts.windowMs);
    this.timer.unref();
  }

  record(r: Rejection): void {
    const producer = r.user !== null ? `user:${r.user}` : `address:${r.address}`;
    let c = this.counts.get(producer);
    if (!c) {
      c = { logged: 0, suppressed: 0, user: r.user, address: r.address };
      this.counts.set(producer, c);
    }
    if (c.logged >= this.opts.perWindow) {
      c.suppressed++;
      return;
    }
    c.logged++;
    this.log.warn(
      { user: r.user, address: r.address, via: r.via, label: shown(r.label), key: shown(r.key), code: r.code, detail: shown(r.detail) },
      'upload rejected',
    );
  }

  /** One summary line per producer whose rejections were not all logged, then a new window. */
  private endWindow(): void {
    const seconds = this.opts.windowMs / 1000;
    for (const c of this.counts.values()) {
      if (c.suppressed === 0) continue;
      this.log.warn(
        { user: c.user, address: c.address, suppressed: c.suppressed },
        `${c.suppressed} more uploads rejected from ${c.user ?? c.address} in the last ${seconds} s, not logged one by one`,
      );
    }
    this.counts.clear();
  }

  close(): void {
    clearInterval(this.timer);
  }
}
