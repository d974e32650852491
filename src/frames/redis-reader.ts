// A blocking reader: a loop of
//   XREAD COUNT 10 BLOCK <ms> STREAMS k1..kn id1..idn
// over a group of watched streams, on a connection of its own. Its Redis work depends on the
// streams watched, never on how many listeners a stream has (the store fans out in memory).
// On one Redis a process has one reader over every watched stream; on a Redis Cluster, where one
// XREAD may only name keys of one hash slot, cluster-readers.ts runs one per watched slot.
import type { Redis } from 'ioredis';
import type { Logger } from '../lib/log.js';
import type { Outages } from '../redis/connections.js';

export interface WatchedStream {
  redisKey: string;
  /** Newest entry id already delivered: XREAD returns only later ones. */
  cursor: string;
}

export type Entry = [id: Buffer, fields: Buffer[]];

/** What the store drives: the one reader, or the cluster's readers per slot. */
export interface Reader {
  start(): void;
  /** The watched set gained `redisKey`: make the next XREAD include it now, not after BLOCK ms. */
  kick(redisKey: string): void;
  stop(): Promise<void>;
}

/** The connections a reader reads on. */
export interface ReaderLink {
  /** Dedicated connection: a blocked XREAD holds it. */
  conn: Redis;
  /** Another connection to the same server, to send CLIENT UNBLOCK while `conn` is blocked. */
  control: { client(sub: 'UNBLOCK', id: number): Promise<unknown> };
}

export interface ReaderOptions {
  /** Called before a read when the reader has no link (at the start, and after `drop`). */
  link: () => Promise<ReaderLink>;
  /**
   * A read failed on `link`: return true to give it up (the next read asks for a new one).
   * Without it the link is kept (ioredis reconnects it).
   */
  drop?: (link: ReaderLink, err: unknown) => boolean;
  blockMs: number;
  /** The streams to read now, with their cursors (called before every XREAD). */
  watched: () => WatchedStream[];
  /** New entries of one stream, oldest first. */
  onEntries: (redisKey: string, entries: Entry[]) => void;
  outages: Outages;
  /** What the outage log calls this reader. */
  part?: string;
  log: Logger;
}

const COUNT = 10;
const BACKOFF_MIN_MS = 200;
const BACKOFF_MAX_MS = 2000;

export class StreamReader implements Reader {
  private stopped = false;
  private current: ReaderLink | null = null;
  /** CLIENT ID of the link's connection; null after a disconnect. */
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
  private readonly part: string;

  constructor(private readonly o: ReaderOptions) {
    this.part = o.part ?? 'reader';
  }

  start(): void {
    this.loop ??= this.run();
  }

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

  /** The link in use (null between a dropped link and the next read). */
  get link(): ReaderLink | null {
    return this.current;
  }

  private async run(): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    while (!this.stopped) {
      if (this.o.watched().length === 0) {
        // Nothing to read: no Redis traffic until a stream is watched.
        this.idle = true;
        await this.pause(BACKOFF_MAX_MS * 5);
        this.idle = false;
        continue;
      }
      try {
        await this.read();
        this.o.outages.ok(this.part);
        backoff = BACKOFF_MIN_MS;
      } catch (err) {
        this.reading = false;
        if (this.stopped) break;
        this.o.outages.fail(this.part, err);
        const failed = this.current;
        if (failed && this.o.drop?.(failed, err)) this.current = null;
        await this.pause(backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
  }

  private async read(): Promise<void> {
    if (!this.current) {
      const link = await this.o.link();
      if (this.stopped) return;
      this.current = link;
      this.clientId = null;
      // A new connection has a new client id: fetch it again before the next XREAD.
      link.conn.on('close', () => {
        if (this.current === link) this.clientId = null;
      });
    }
    const { conn } = this.current;
    if (this.clientId === null) this.clientId = Number(await conn.client('ID'));
    if (this.stopped) return;
    // Taken after the awaits above: a stream kicked in meanwhile is in this XREAD, not the next.
    const streams = this.o.watched();
    if (streams.length === 0) return;
    const args = [...streams.map((s) => s.redisKey), ...streams.map((s) => s.cursor)];
    this.stale = false;
    this.reading = true;
    const reply = await conn.xreadBuffer('COUNT', COUNT, 'BLOCK', this.o.blockMs, 'STREAMS', ...args);
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
        const link = this.current;
        if (link && this.clientId !== null) {
          const n = await link.control.client('UNBLOCK', this.clientId).catch(() => 0);
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
