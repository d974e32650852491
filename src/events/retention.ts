// Deletes events last seen longer ago than the retention period (set by an admin, stored in the
// database, else EVENT_RETENTION_DAYS), with their snapshots, reviews and deliveries, every
// EVENT_RETENTION_SWEEP_MS and at once when an admin changes the period. Every instance sweeps:
// the deletes are idempotent, and chunked so that no statement grows with the backlog.
import { Coalesced } from '../lib/coalesced.js';
import type { Logger } from '../lib/log.js';
import type { EventsRepository } from './repository.js';

const CHUNK = 500;

export class RetentionSweeper {
  private timer: NodeJS.Timeout | null = null;
  private readonly sweeper = new Coalesced(async () => {
    try {
      await this.sweepOnce();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'safety events: retention sweep failed; will retry');
    }
  });
  private closed = false;
  deleted = 0;

  constructor(
    private readonly repo: EventsRepository,
    readonly defaultMs: number,
    private readonly everyMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.sweepSoon(), this.everyMs);
    this.timer.unref();
    this.sweepSoon();
  }

  sweepSoon(): void {
    if (!this.closed) this.sweeper.run();
  }

  /** One sweep; resolves with how many events it deleted. */
  async sweepOnce(): Promise<number> {
    const keepMs = (await this.repo.retentionMs()) ?? this.defaultMs;
    const cutoff = Date.now() - keepMs;
    let total = 0;
    for (;;) {
      const n = await this.repo.deleteOlderThan(cutoff, CHUNK);
      total += n;
      if (n < CHUNK || this.closed) break;
      await new Promise((r) => setImmediate(r)); // let requests in between chunks (SQLite is synchronous)
    }
    this.deleted += total;
    if (total > 0) this.log.info({ deleted: total }, 'safety events: deleted events past the retention period');
    return total;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.sweeper.idle();
  }
}
