// Reading on a Redis Cluster. Streams of the old layout have no hash tag, so the cameras of one
// label spread over slots, and one XREAD may only name keys of one slot: the watched streams are
// grouped by slot, and each watched slot gets a StreamReader of its own, blocking on a connection
// of its own to the master that serves the slot (CLIENT UNBLOCK goes to that same server, through
// the cluster client's connection to it). Redis work stays independent of the number of viewers:
// per process, one blocked connection and one XREAD per batch of new entries for each watched
// slot, on that slot's master.
// Failover or resharding: a read that fails (the master is gone, or answers MOVED) gives its
// connection up; the next one reads the slot table again and connects to the slot's new master.
import calculateSlot from 'cluster-key-slot';
import type { Logger } from '../lib/log.js';
import { COMMAND_TIMEOUT_MS, type Outages, type RedisConnections } from '../redis/connections.js';
import { StreamReader, type Entry, type Reader, type ReaderLink, type WatchedStream } from './redis-reader.js';

interface Options {
  redis: RedisConnections;
  blockMs: number;
  watched: () => WatchedStream[];
  onEntries: (redisKey: string, entries: Entry[]) => void;
  outages: Outages;
  log: Logger;
}

/** How long a grouping of the watched streams by slot is reused before it is made again. */
const REGROUP_MS = 1000;

export class ClusterReaders implements Reader {
  private readonly readers = new Map<number, StreamReader>();
  private groups = new Map<number, WatchedStream[]>();
  private groupedAt = 0;
  private started = false;
  private stopped = false;

  constructor(private readonly o: Options) {}

  start(): void {
    this.started = true;
    this.sync();
  }

  kick(redisKey: string): void {
    this.groupedAt = 0; // group again
    if (!this.started || this.stopped) return;
    this.sync();
    this.readers.get(calculateSlot(redisKey))?.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const readers = [...this.readers.values()];
    this.readers.clear();
    await Promise.all(readers.map((r) => this.retire(r)));
  }

  /** The watched streams of one slot (the grouping is made again after a kick, or REGROUP_MS). */
  private group(slot: number): WatchedStream[] {
    const now = Date.now();
    if (now - this.groupedAt >= REGROUP_MS) {
      const groups = new Map<number, WatchedStream[]>();
      for (const s of this.o.watched()) {
        const slot = calculateSlot(s.redisKey);
        let g = groups.get(slot);
        if (!g) groups.set(slot, (g = []));
        g.push(s);
      }
      this.groups = groups;
      this.groupedAt = now;
    }
    return this.groups.get(slot) ?? [];
  }

  /** A reader for every watched slot that has none. */
  private sync(): void {
    this.group(-1); // refresh the grouping if due
    for (const slot of this.groups.keys()) {
      if (this.readers.has(slot)) continue;
      const reader = this.readerFor(slot);
      this.readers.set(slot, reader);
      reader.start();
    }
  }

  private readerFor(slot: number): StreamReader {
    let failed = false;
    const reader: StreamReader = new StreamReader({
      blockMs: this.o.blockMs,
      watched: () => {
        const streams = this.group(slot);
        // No longer watched: stop this reader and give its connection back.
        if (streams.length === 0 && this.readers.get(slot) === reader) {
          this.readers.delete(slot);
          queueMicrotask(() => void this.retire(reader));
        }
        return streams;
      },
      onEntries: this.o.onEntries,
      link: async () => {
        if (failed) await this.o.redis.refreshTopology();
        failed = false;
        const node = this.o.redis.masterOf(slot);
        if (!node) {
          failed = true;
          throw new Error(`no master known for slot ${slot}`);
        }
        const conn = await this.o.redis.dedicated('framestore-reader', {
          commandTimeout: this.o.blockMs + COMMAND_TIMEOUT_MS,
          retryStrategy: () => null, // a lost master is not waited for: the slot moves to another
        }, node).catch((err: unknown) => {
          failed = true;
          throw err;
        });
        const control = this.o.redis.nodeClient(node) ?? conn;
        return { conn, control } satisfies ReaderLink;
      },
      drop: (link) => {
        failed = true;
        link.conn.disconnect();
        return true;
      },
      outages: this.o.outages,
      part: 'reader',
      log: this.o.log,
    });
    return reader;
  }

  private async retire(reader: StreamReader): Promise<void> {
    const link = reader.link;
    const stopped = reader.stop();
    link?.conn.disconnect(); // ends a blocked XREAD at once
    await stopped;
  }
}
