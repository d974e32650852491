// The event recorder: the upload path hands it every stored frame (record(), synchronous and cheap:
// it never waits for the database), it folds the frames' warnings into pending runs (grouping.ts,
// bounded: the oldest are dropped and counted), and a worker writes them in batches every
// EVENT_FLUSH_MS. A warning that keeps coming back is written again at most every EXTEND_EVERY_MS
// (new events go out at once; a continuing one needs no 4 writes a second). The runs of a failed
// write go back in front of the queue (within its bound) and are retried with backoff while new
// frames keep folding in; the upload path never sees it.
import type { StoredUpload } from '../ingest/routes.js';
import { isUnavailable } from '../error-mapping.js';
import { Lru } from '../lib/lru.js';
import { TextCache } from '../lib/text-cache.js';
import type { Logger } from '../lib/log.js';
import { PendingRuns, runKey, type Run } from './grouping.js';
import { mayHaveWarnings, parseWarnings, type FrameWarning } from './warnings.js';

/** What a written batch changed: events created or extended. */
export interface EventChange {
  id: number;
  site: string;
  seq: number;
  created: boolean;
}

export interface BatchWriter {
  writeBatch(runs: Run[]): Promise<{ changes: EventChange[]; deliveries: number }>;
}

export interface RecorderOptions {
  quietMs: number;
  flushMs: number;
  maxRuns: number;
  snapshotMaxBytes: number;
  /** First wait before retrying a failed write (doubled up to 10 s); default 500 ms. */
  retryMinMs?: number;
  /** Called after each written batch (live feed, webhooks). */
  onWritten?: (result: { changes: EventChange[]; deliveries: number }) => void;
}

/** Runs written in one transaction, at most. */
const MAX_BATCH = 500;
/** A camera's warning that was just written waits this long before its next write (it extends the event). */
export const EXTEND_EVERY_MS = 1000;
/** Warnings texts longer than this are parsed every time (they are unusual; the cache stays small). */
const MAX_CACHED_TEXT = 1024;
const MAX_CACHED_TEXTS = 4096;
/** Images (future snapshots) the waiting runs may hold; past it new events get none. */
export const MAX_HELD_IMAGE_BYTES = 64 * 1024 * 1024;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;
/** A batch that keeps failing while the database answers is a bug, not an outage: give up on it. */
const MAX_ATTEMPTS_WHEN_REACHABLE = 5;

export class EventRecorder {
  private readonly pending: PendingRuns;
  /** Warnings texts seen lately and what they parsed to: detectors repeat a few texts over and over. */
  private readonly parsed = new TextCache<FrameWarning[]>(MAX_CACHED_TEXTS, MAX_CACHED_TEXT);
  /** When each camera's warning was last written (runKey -> epoch ms). */
  private readonly written = new Lru<string, number>(100_000);
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  /** Consecutive failed writes. */
  private attempts = 0;
  private closed = false;
  readonly counters = { framesWithWarnings: 0, created: 0, extended: 0, writeFailures: 0, batchesDropped: 0 };

  constructor(
    private readonly writer: BatchWriter,
    private readonly opts: RecorderOptions,
    private readonly log: Logger,
  ) {
    this.pending = new PendingRuns(opts.quietMs, opts.maxRuns, MAX_HELD_IMAGE_BYTES);
  }

  /** Frames whose warnings were dropped from a full queue. */
  get droppedFrames(): number {
    return this.pending.droppedFrames;
  }

  /** Runs waiting to be written. */
  get queued(): number {
    return this.pending.size;
  }

  /** Snapshot images not kept because MAX_HELD_IMAGE_BYTES were waiting. */
  get snapshotsSkipped(): number {
    return this.pending.imagesSkipped;
  }

  /** Takes a stored frame's warnings; returns at once. */
  record(frame: StoredUpload): void {
    const raw = frame.fields.warnings;
    if (this.closed || !mayHaveWarnings(raw)) return;
    let warnings = this.parsed.get(raw);
    if (!warnings) {
      warnings = parseWarnings(raw);
      this.parsed.set(raw, warnings);
    }
    if (warnings.length === 0) return;
    this.counters.framesWithWarnings++;
    const at = Date.now();
    const image = frame.fields.frame.length <= this.opts.snapshotMaxBytes ? frame.fields.frame : null;
    for (const w of warnings) {
      this.pending.add({ site: frame.label, camera: frame.key, code: w.code, kind: w.kind, count: w.count, at, frameId: frame.id, image });
    }
    this.schedule(this.opts.flushMs);
  }

  /** Writes everything pending now (shutdown, tests); resolves when written or failed. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.writing) await this.writing;
    if (this.pending.size > 0) await this.drain(true);
  }

  async close(): Promise<void> {
    await this.flush().catch(() => {});
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(delayMs: number): void {
    if (this.timer || this.writing || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.drain();
    }, delayMs);
  }

  private drain(all = false): Promise<void> {
    this.writing ??= this.writeAll(all).finally(() => {
      this.writing = null;
      if (this.pending.size === 0) return;
      if (this.attempts > 0) this.schedule(Math.min(RETRY_MAX_MS, (this.opts.retryMinMs ?? RETRY_MIN_MS) * 2 ** Math.min(this.attempts - 1, 5)));
      else this.schedule(this.opts.flushMs);
    });
    return this.writing;
  }

  /** Writes the runs that are due (`all`: every one), in batches. */
  private async writeAll(all: boolean): Promise<void> {
    for (;;) {
      const now = Date.now();
      const due = (key: string) => now - (this.written.get(key) ?? 0) >= EXTEND_EVERY_MS;
      const batch = this.pending.take(MAX_BATCH, all ? undefined : due);
      if (batch.length === 0) return;
      let result: { changes: EventChange[]; deliveries: number };
      try {
        result = await this.writer.writeBatch(batch);
      } catch (err) {
        this.counters.writeFailures++;
        this.attempts++;
        if (this.attempts === 1) this.log.warn({ err: (err as Error).message, runs: batch.length }, 'safety events: write failed; retrying');
        if (!isUnavailable(err) && this.attempts >= MAX_ATTEMPTS_WHEN_REACHABLE) {
          this.log.error({ err, runs: batch.length }, 'safety events: a batch keeps failing; dropping it');
          this.counters.batchesDropped++;
          this.attempts = 0;
          continue;
        }
        this.pending.putBack(batch);
        return;
      }
      if (this.attempts > 0) this.log.info({}, 'safety events: writing again');
      this.attempts = 0;
      for (const r of batch) this.written.set(runKey(r.site, r.camera, r.code), now);
      for (const c of result.changes) {
        if (c.created) this.counters.created++;
        else this.counters.extended++;
      }
      try {
        this.opts.onWritten?.(result);
      } catch (err) {
        this.log.warn({ err }, 'safety events: onWritten failed');
      }
    }
  }
}
