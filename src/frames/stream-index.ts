// What a process knows of the streams in Redis: label -> camera -> the newest entry id seen, so
// that labels() and keys() answer from memory (never KEYS, never a SCAN per request). Filled at
// once by this process's appends, by the reader, by other instances' announcements
// (stream-announcements.ts), and for streams of other writers (the old backend) by a background
// sweep: a SCAN MATCH stream_frame:* every scanIntervalMs, on every master of a Redis Cluster.
// The sweep also drops deleted streams, and marks cameras idle past idleMs (hidden, but kept so
// that the next SCAN does not find them "new").
import calculateSlot from 'cluster-key-slot';
import { ReplyError } from 'ioredis';
import type { RedisClient, RedisConnections } from '../redis/connections.js';
import { compareIds, idTime, parseStreamKey, STREAM_PATTERN } from './keys.js';
import type { Entry } from './redis-reader.js';

/** What the index knows of one stream. */
export interface Known {
  redisKey: string;
  /** Newest entry id seen (by an append, the reader, an announcement or XREVRANGE). */
  lastId: string;
  /** Verified idle: hidden from labels()/keys() but kept, so SCAN does not find it "new" again. */
  idle: boolean;
  /** When the newest entry was last read with XREVRANGE. */
  checkedAt: number;
  /** The last sweep that found the key (or this process learnt of it during). */
  seenSweep: number;
}

export interface StreamIndexOptions {
  redis: RedisConnections;
  /** How often to SCAN for streams written by other writers. */
  scanIntervalMs: number;
  /** A camera with no entry for this long leaves labels() and keys(). */
  idleMs: number;
  /** How often a stream found idle is checked for new entries. */
  idleRecheckMs: number;
  /** A stream left the index (deleted from Redis). */
  onForgotten: (label: string, key: string) => void;
  /** A sweep read the newest entry of a stream that was new to the index, or looked idle. */
  onFound: (label: string, key: string, known: Known, entry: Entry) => void;
  /** How each background sweep went (for outage logs). */
  onSweep?: (err?: unknown) => void;
}

/**
 * XREVRANGE key + - COUNT 1: the newest entry, or undefined when there is none. A key that Redis
 * refuses (say it is no longer a stream) reads as empty; a lost connection still throws.
 */
export async function newestEntry(cmd: RedisClient, redisKey: string): Promise<Entry | undefined> {
  try {
    return (await cmd.xrevrangeBuffer(redisKey, '+', '-', 'COUNT', 1))[0];
  } catch (err) {
    if (err instanceof ReplyError && !/^(MOVED|ASK|CLUSTERDOWN|TRYAGAIN)\b/.test((err as Error).message)) return undefined;
    throw err;
  }
}

export class StreamIndex {
  /** label -> camera -> stream facts. Bounded by the keyspace. */
  private readonly index = new Map<string, Map<string, Known>>();
  private sweepNo = 0;
  private failing = false;
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;
  /** soon() was asked during a sweep: sweep again at once after it. */
  private again = false;
  private stopped = false;

  constructor(private readonly o: StreamIndexOptions) {}

  /** The last sweep failed: what the index says may be out of date. */
  get sweepFailing(): boolean {
    return this.failing;
  }

  get(label: string, key: string): Known | undefined {
    return this.index.get(label)?.get(key);
  }

  /** The cameras of a label, idle ones included. */
  camerasOf(label: string): [key: string, known: Known][] {
    return [...(this.index.get(label) ?? [])];
  }

  labels(): string[] {
    const out: string[] = [];
    for (const [label, cams] of this.index) {
      for (const k of cams.values()) {
        if (!k.idle) {
          out.push(label);
          break;
        }
      }
    }
    return out.sort();
  }

  keys(label: string): string[] {
    const out: string[] = [];
    for (const [key, k] of this.index.get(label) ?? []) if (!k.idle) out.push(key);
    return out.sort();
  }

  /**
   * Records an entry id of a stream (appended, read, announced or found). `fresh`: the index did
   * not know the stream, or knew it as idle, before.
   */
  note(label: string, key: string, redisKey: string, id: string, now = Date.now()): { known: Known; fresh: boolean } {
    let cams = this.index.get(label);
    if (!cams) this.index.set(label, (cams = new Map()));
    let k = cams.get(key);
    const fresh = !k || k.idle;
    if (!k) cams.set(key, (k = { redisKey, lastId: id, idle: false, checkedAt: now, seenSweep: this.sweepNo }));
    if (compareIds(id, k.lastId) > 0) k.lastId = id;
    k.idle = now - idTime(k.lastId) > this.o.idleMs;
    k.seenSweep = this.sweepNo;
    return { known: k, fresh };
  }

  /** Sweeps once (start-up: resolves once the index holds every stream), then every scanIntervalMs. */
  async start(): Promise<void> {
    await this.sweep();
    this.schedule(this.o.scanIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Sweeps soon (say, after pushes may have been missed), without waiting for the interval. */
  soon(): void {
    if (this.sweeping) this.again = true;
    else if (this.timer && !this.stopped) {
      clearTimeout(this.timer);
      this.schedule(0);
    }
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.sweeping = true;
      this.sweep().then(
        () => this.o.onSweep?.(),
        (err) => this.o.onSweep?.(err),
      ).finally(() => {
        this.sweeping = false;
        const now = this.again;
        this.again = false;
        this.schedule(now ? 0 : this.o.scanIntervalMs);
      });
    }, delay);
    this.timer.unref();
  }

  /** Drops a stream (deleted from Redis, or removed through this service). */
  forget(label: string, key: string): void {
    const cams = this.index.get(label);
    cams?.delete(key);
    if (cams?.size === 0) this.index.delete(label);
    this.o.onForgotten(label, key);
  }

  /**
   * One full SCAN cycle: finds streams of other writers and drops deleted ones; then one pipelined
   * round trip reads the newest entry of new streams and of streams that look idle, and asks
   * whether idle streams due for a recheck have anything new.
   */
  async sweep(): Promise<void> {
    const sweep = ++this.sweepNo;
    try {
      const check: { label: string; key: string; redisKey: string }[] = [];
      await Promise.all(this.o.redis.scanTargets().map(async (server) => {
        let cursor = '0';
        do {
          const [next, found] = await server.scan(cursor, 'MATCH', STREAM_PATTERN, 'COUNT', 1000, 'TYPE', 'stream');
          cursor = next;
          for (const redisKey of found) {
            const p = parseStreamKey(redisKey);
            if (!p) continue; // not in the layout
            const k = this.get(p.label, p.key);
            if (k) k.seenSweep = sweep;
            else check.push({ ...p, redisKey });
          }
        } while (cursor !== '0');
      }));
      if (this.stopped) return;

      const now = Date.now();
      const dead: Known[] = [];
      for (const [label, cams] of this.index) {
        for (const [key, k] of cams) {
          if (k.seenSweep < sweep) this.forget(label, key); // deleted: a full cycle did not find it
          else if (!k.idle && now - idTime(k.lastId) > this.o.idleMs) check.push({ label, key, redisKey: k.redisKey });
          else if (k.idle && now - k.checkedAt >= this.o.idleRecheckMs) dead.push(k);
        }
      }
      const cmd = this.o.redis.client;
      const [newest, revived] = await Promise.all([
        Promise.all(check.map((c) => newestEntry(cmd, c.redisKey))),
        this.newerThanLast(dead),
      ]);
      if (this.stopped) return;
      check.forEach((c, i) => this.learn(c.label, c.key, c.redisKey, newest[i], now));
      for (const k of dead) k.checkedAt = now;
      for (const [redisKey, id] of revived) {
        const p = parseStreamKey(redisKey);
        if (p) this.note(p.label, p.key, redisKey, id, now);
      }
    } catch (err) {
      this.failing = true;
      throw err;
    }
    this.failing = false;
  }

  /**
   * Idle streams that have an entry after the last one seen, with that entry's id. A non-blocking
   * XREAD COUNT 1 names them and returns only the streams that moved, so the (often many) dead
   * cameras cost no frame bytes: one XREAD on one Redis, one per hash slot on a Cluster.
   */
  private async newerThanLast(dead: Known[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (dead.length === 0) return out;
    const groups = new Map<number, Known[]>();
    for (const k of dead) {
      const slot = this.o.redis.isCluster ? calculateSlot(k.redisKey) : 0;
      let g = groups.get(slot);
      if (!g) groups.set(slot, (g = []));
      g.push(k);
    }
    const cmd = this.o.redis.client;
    const replies = await Promise.all([...groups.values()].map((g) =>
      cmd.xreadBuffer('COUNT', 1, 'STREAMS', ...g.map((k) => k.redisKey), ...g.map((k) => k.lastId))));
    for (const reply of replies) {
      for (const [key, entries] of reply ?? []) {
        const e = entries[0];
        if (e) out.set(key.toString(), e[0].toString());
      }
    }
    return out;
  }

  /** Applies a stream's newest entry read by the sweep (undefined: the stream is empty or gone). */
  private learn(label: string, key: string, redisKey: string, e: Entry | undefined, now: number): void {
    if (!e) {
      const k = this.get(label, key);
      if (k) Object.assign(k, { idle: true, checkedAt: now });
      return;
    }
    const { known } = this.note(label, key, redisKey, e[0].toString(), now);
    known.checkedAt = now;
    this.o.onFound(label, key, known, e);
  }
}
