// The one blocking reader of a process: a loop of
//   XREAD COUNT 10 BLOCK <ms> STREAMS k1..kn id1..idn
// over every watched stream, on a connection of its own. Its Redis work depends on the streams
// watched, never on how many listeners a stream has (the store fans out in memory).
//
// Redis Cluster: XREAD must name keys of one hash slot only. `groups()` is where a cluster variant
// would split the watched streams by slot (cluster-key-slot) and run one loop per group; everything
// else here stays as is.
import type { Redis } from 'ioredis';
import type { Logger } from '../lib/log.js';
import type { Outages } from '../redis/connections.js';

export interface WatchedStream {
  redisKey: string;
  /** Newest entry id already delivered: XREAD returns only later ones. */
  cursor: string;
}

export type Entry = [id: Buffer, fields: Buffer[]];

interface ReaderOptions {
  /** Dedicated connection: a blocked XREAD holds it. */
  conn: Redis;
  /** Another connection, to send CLIENT UNBLOCK while `conn` is blocked. */
  control: Redis;
  blockMs: number;
  /** The streams to read now, with their cursors (called before every XREAD). */
  watched: () => WatchedStream[];
  /** New entries of one stream, oldest first. */
  onEntries: (redisKey: string, entries: Entry[]) => void;
  outages: Outages;
  log: Logger;
}

const COUNT = 10;
const BACKOFF_MIN_MS = 200;
const BACKOFF_MAX_MS = 2000;

export class StreamReader {
  private stopped = false;
  /** CLIENT ID of `conn` on its current connection; null after a disconnect. */
  private clientId: number | null = null;
  /** An XREAD is in flight. */
  private reading = false;
  /** The watched set changed after the in-flight XREAD was sent. */
  private stale = false;
  private unblocking = false;
  /** Ends the loop's current wait (for streams to watch, or a back-off). */
  private wake: (() => void) | null = null;
  /** The current wait is for streams to watch (kick ends it; a back-off only stop() ends). */
  private idle = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly o: ReaderOptions) {
    // A new connection has a new client id: fetch it again before the next XREAD.
    o.conn.on('close', () => {
      this.clientId = null;
    });
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** The watched set gained a stream: make the next XREAD include it now, not after BLOCK ms. */
  kick(): void {
    this.stale = true;
    if (this.idle) this.wake?.();
    else if (this.reading) void this.unblock();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  /** Groups of streams that one XREAD may name together. One group on a single Redis (see top). */
  private groups(streams: WatchedStream[]): WatchedStream[][] {
    return [streams];
  }

  private async run(): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    while (!this.stopped) {
      const streams = this.o.watched();
      if (streams.length === 0) {
        // Nothing to read: no Redis traffic until a stream is watched.
        this.idle = true;
        await this.pause(BACKOFF_MAX_MS * 5);
        this.idle = false;
        continue;
      }
      try {
        for (const group of this.groups(streams)) await this.read(group);
        this.o.outages.ok('reader');
        backoff = BACKOFF_MIN_MS;
      } catch (err) {
        this.reading = false;
        if (this.stopped) break;
        this.o.outages.fail('reader', err);
        await this.pause(backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
  }

  private async read(group: WatchedStream[]): Promise<void> {
    if (this.clientId === null) this.clientId = Number(await this.o.conn.client('ID'));
    if (this.stopped) return;
    const args = [...group.map((s) => s.redisKey), ...group.map((s) => s.cursor)];
    this.stale = false;
    this.reading = true;
    const reply = await this.o.conn.xreadBuffer('COUNT', COUNT, 'BLOCK', this.o.blockMs, 'STREAMS', ...args);
    this.reading = false;
    if (!reply) return; // timed out or unblocked
    for (const [key, entries] of reply) {
      try {
        this.o.onEntries(key.toString(), entries);
      } catch (err) {
        // The store catches listener errors itself; this keeps the loop alive whatever happens.
        this.o.log.error({ err }, 'Redis frame store: delivering entries failed');
      }
    }
  }

  /**
   * CLIENT UNBLOCK ends the blocked XREAD as if it timed out. It can overtake an XREAD that was sent
   * but is not blocking yet (then it answers 0): retry briefly while that same XREAD is in flight.
   */
  private async unblock(): Promise<void> {
    if (this.unblocking) return;
    this.unblocking = true;
    try {
      for (let i = 0; i < 10 && this.reading && this.stale && !this.stopped; i++) {
        if (this.clientId !== null) {
          const n = await this.o.control.client('UNBLOCK', this.clientId).catch(() => 0);
          if (n === 1) return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      this.unblocking = false;
    }
  }

  /** Sleeps up to `ms`, or until woken. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
