// The Redis Streams frame store (REDIS_URL), shared by every instance behind a load balancer.
// Layout exactly as the old backend wrote it (DESIGN.md §2): one stream per camera,
// stream_frame:{b64 label}|{b64 key}, fields frame, warnings, cone_polygons, pole_polygons,
// detection_items, width, height, trimmed with MAXLEN ~.
//
// Redis work per process does not grow with viewers (DESIGN.md §3):
// - the service's shared command connection (auto-pipelined) and a dedicated one for a single
//   blocking XREAD loop (redis-reader.ts) over the streams of every label that has a listener;
//   frames fan out in memory;
// - an in-memory index label -> camera, filled by this process's appends at once and by a
//   background SCAN every scanIntervalMs (never KEYS, never per request); labels() and keys()
//   answer from it.
import { ReplyError, type Redis } from 'ioredis';
import { COMMAND_TIMEOUT_MS, Outages, type RedisConnections } from '../redis/connections.js';
import { frameStoreError } from '../error-mapping.js';
import { maskPassword } from '../config.js';
import type { Logger } from '../lib/log.js';
import type { FrameFields, StoredFrame } from './frame.js';
import { compareIds, idTime, parseStreamKey, STREAM_PATTERN, streamKey } from './keys.js';
import { entryFields, entryToFrame } from './redis-entry.js';
import { StreamReader, type Entry } from './redis-reader.js';
import type { FrameListener, FrameStore, LabelSubscription } from './store.js';

export interface RedisFrameStoreOptions {
  /** The service's Redis connections (src/connections.ts): the store reads on a dedicated one. */
  redis: RedisConnections;
  /** XADD MAXLEN ~ (about this many entries are kept per stream). */
  maxLen: number;
  /** How often to SCAN for streams written by other writers. */
  scanIntervalMs: number;
  /** A camera with no entry for this long leaves labels() and keys(). */
  idleMs: number;
  log: Logger;
  /** How long open() waits for the first SCAN (default 5 s). */
  connectTimeoutMs?: number;
  /** XREAD BLOCK (default 2 s): the longest a reader waits before it rebuilds its stream list. */
  blockMs?: number;
  /** How often a stream found idle is checked for new entries (default 10 scan intervals). */
  idleRecheckMs?: number;
}

/** What the index knows of one stream. */
interface Known {
  redisKey: string;
  /** Newest entry id seen (by an append, the reader or XREVRANGE). */
  lastId: string;
  /** Verified idle: hidden from labels()/keys() but kept, so SCAN does not find it "new" again. */
  idle: boolean;
  /** When the newest entry was last read with XREVRANGE. */
  checkedAt: number;
  /** The last sweep that found the key (or this process wrote it during). */
  seenSweep: number;
}

/** A stream of a label that has listeners. */
interface Watch {
  label: string;
  key: string;
  redisKey: string;
  /** Newest id delivered (or in the snapshot): never deliver this id or an older one. */
  cursor: string;
  /** Newest frame: snapshots of later subscriptions and latest() come from here. */
  newest: StoredFrame | null;
}

interface LabelState {
  listeners: Set<FrameListener>;
  watches: Map<string, Watch>;
  /** The first subscription's load of the newest entries (later ones wait for it). */
  loaded: Promise<void>;
}

export class RedisFrameStore implements FrameStore {
  readonly kind = 'redis' as const;
  private readonly cmd: Redis;
  private readonly reader: StreamReader;
  private readonly outages: Outages;
  private readonly log: Logger;
  /** label -> camera -> stream facts. Bounded by the keyspace. */
  private readonly index = new Map<string, Map<string, Known>>();
  /** Labels with listeners, and their streams by Redis key (what the reader reads). */
  private readonly labelStates = new Map<string, LabelState>();
  private readonly watches = new Map<string, Watch>();
  private sweepNo = 0;
  private sweepFailing = false;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly idleRecheckMs: number;
  private closed = false;
  private closing: Promise<void> | null = null;

  /** Opens the store; resolves once the first SCAN filled the index (else rejects, store closed). */
  static async open(opts: RedisFrameStoreOptions): Promise<RedisFrameStore> {
    const blockMs = opts.blockMs ?? 2000;
    const readConn = await opts.redis.dedicated('framestore-reader', { commandTimeout: blockMs + COMMAND_TIMEOUT_MS });
    const store = new RedisFrameStore(opts, readConn, blockMs);
    await store.init(opts.connectTimeoutMs ?? 5000);
    return store;
  }

  private constructor(
    private readonly o: RedisFrameStoreOptions,
    private readonly readConn: Redis,
    blockMs: number,
  ) {
    this.log = o.log;
    this.outages = new Outages(o.log, 'Redis frame store');
    this.cmd = o.redis.client;
    // A stream found idle is read again this often, in case another writer brought it back.
    this.idleRecheckMs = o.idleRecheckMs ?? 10 * o.scanIntervalMs;
    this.reader = new StreamReader({
      conn: this.readConn,
      control: this.cmd,
      blockMs,
      watched: () => [...this.watches.values()],
      onEntries: (redisKey, entries) => this.onEntries(redisKey, entries),
      outages: this.outages,
      log: this.log,
    });
  }

  private async init(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      await Promise.race([this.sweep(), timeout]);
    } catch (err) {
      await this.close();
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`Redis at ${maskPassword(this.o.redis.url)} is not reachable: ${why}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    if (this.closed) throw new Error('Redis frame store closed while opening');
    this.reader.start();
    this.scheduleSweep();
  }

  // ---- writing ----

  async append(label: string, key: string, fields: FrameFields): Promise<string> {
    const redisKey = streamKey(label, key);
    let id: string | null;
    try {
      id = await this.cmd.xadd(redisKey, 'MAXLEN', '~', this.o.maxLen, '*', ...entryFields(fields));
    } catch (err) {
      throw frameStoreError(err);
    }
    if (id === null) throw frameStoreError(new Error('XADD returned no id'));
    this.note(label, key, redisKey, id);
    // Local listeners get the frame now; the cursor keeps the reader from delivering it again.
    const ls = this.labelStates.get(label);
    if (ls) this.offer(ls, this.watchOf(ls, label, key, redisKey, '0-0'), id, { ...fields, label, key, id });
    return id;
  }

  // ---- reading ----

  async latest(label: string, key: string): Promise<StoredFrame | null> {
    this.assertUp();
    const redisKey = streamKey(label, key);
    const w = this.watches.get(redisKey);
    if (w?.newest) return w.newest;
    let e: Entry | undefined;
    try {
      e = await this.newest(redisKey);
    } catch (err) {
      throw frameStoreError(err);
    }
    return e ? entryToFrame(label, key, e[0].toString(), e[1]) : null;
  }

  async labels(): Promise<string[]> {
    this.assertUp();
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

  async keys(label: string): Promise<string[]> {
    this.assertUp();
    const out: string[] = [];
    for (const [key, k] of this.index.get(label) ?? []) if (!k.idle) out.push(key);
    return out.sort();
  }

  async subscribe(label: string, listener: FrameListener): Promise<LabelSubscription> {
    if (this.closed) throw frameStoreError(new Error('store closed'));
    let ls = this.labelStates.get(label);
    if (!ls) {
      const state: LabelState = { listeners: new Set(), watches: new Map(), loaded: Promise.resolve() };
      this.labelStates.set(label, state);
      state.loaded = this.load(label, state);
      state.loaded.catch(() => this.drop(label, state));
      ls = state;
    }
    try {
      await ls.loaded;
    } catch (err) {
      throw frameStoreError(err);
    }
    // The last listener may have left while we waited: start over with a fresh state.
    if (this.labelStates.get(label) !== ls) return this.subscribe(label, listener);
    // Snapshot and registration in one tick: a frame is either in the snapshot or delivered later.
    const snapshot: StoredFrame[] = [];
    for (const w of ls.watches.values()) if (w.newest) snapshot.push(w.newest);
    ls.listeners.add(listener);
    const state = ls;
    return {
      snapshot,
      unsubscribe: () => {
        state.listeners.delete(listener);
        if (state.listeners.size === 0) this.drop(label, state);
      },
    };
  }

  async ping(): Promise<void> {
    try {
      await this.cmd.ping();
    } catch (err) {
      throw frameStoreError(err);
    }
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    for (const ls of this.labelStates.values()) ls.listeners.clear();
    this.labelStates.clear();
    this.watches.clear();
    this.closing = (async () => {
      const stopped = this.reader.stop();
      this.readConn.disconnect(); // ends a blocked XREAD at once
      await stopped;
    })();
    return this.closing;
  }

  // ---- subscriptions ----

  /** First subscription of a label: the newest entry of each known stream, one pipelined round trip. */
  private async load(label: string, ls: LabelState): Promise<void> {
    const cams = [...(this.index.get(label) ?? [])];
    const live = cams.filter(([, k]) => !k.idle);
    const newest = await Promise.all(live.map(([, k]) => this.newest(k.redisKey)));
    if (this.labelStates.get(label) !== ls) return;
    live.forEach(([key, k], i) => {
      if (this.index.get(label)?.get(key) !== k) return; // deleted meanwhile
      const w = this.watchOf(ls, label, key, k.redisKey, '0-0');
      const e = newest[i];
      if (e) this.offer(ls, w, e[0].toString(), e[1]);
    });
    // Idle cameras are not in the snapshot, but are read from their last entry on, so a camera
    // that comes back reaches the listeners at once.
    for (const [key, k] of cams) if (k.idle) this.watchOf(ls, label, key, k.redisKey, k.lastId);
  }

  /** The watch of a stream of a subscribed label; a new one joins the reader's XREAD at once. */
  private watchOf(ls: LabelState, label: string, key: string, redisKey: string, cursor: string): Watch {
    let w = ls.watches.get(key);
    if (!w) {
      w = { label, key, redisKey, cursor, newest: null };
      ls.watches.set(key, w);
      this.watches.set(redisKey, w);
      this.reader.kick();
    }
    return w;
  }

  /** Delivers an entry newer than the stream's cursor to every listener of its label, once. */
  private offer(ls: LabelState, w: Watch, id: string, entry: Buffer[] | StoredFrame): void {
    if (compareIds(id, w.cursor) <= 0) return;
    w.cursor = id;
    const frame = Array.isArray(entry) ? entryToFrame(w.label, w.key, id, entry) : entry;
    if (!frame) {
      this.log.debug({ stream: w.redisKey, id }, 'Redis frame store: entry without a frame skipped');
      return;
    }
    w.newest = frame;
    for (const fn of ls.listeners) {
      try {
        fn(frame);
      } catch (err) {
        this.log.error({ err, label: w.label, key: w.key }, 'Redis frame store: listener failed');
      }
    }
  }

  private onEntries(redisKey: string, entries: Entry[]): void {
    const w = this.watches.get(redisKey);
    const ls = w && this.labelStates.get(w.label);
    if (!w || !ls) return; // unsubscribed while the XREAD was out
    for (const [idBuf, fields] of entries) {
      const id = idBuf.toString();
      this.note(w.label, w.key, redisKey, id);
      this.offer(ls, w, id, fields);
    }
  }

  private drop(label: string, ls: LabelState): void {
    if (this.labelStates.get(label) !== ls) return;
    this.labelStates.delete(label);
    for (const w of ls.watches.values()) if (this.watches.get(w.redisKey) === w) this.watches.delete(w.redisKey);
  }

  // ---- the stream index ----

  /** Records an entry id of a stream (appended, read, or found) in the index. */
  private note(label: string, key: string, redisKey: string, id: string, now = Date.now()): Known {
    let cams = this.index.get(label);
    if (!cams) this.index.set(label, (cams = new Map()));
    let k = cams.get(key);
    if (!k) cams.set(key, (k = { redisKey, lastId: id, idle: false, checkedAt: now, seenSweep: this.sweepNo }));
    if (compareIds(id, k.lastId) > 0) k.lastId = id;
    k.idle = now - idTime(k.lastId) > this.o.idleMs;
    k.seenSweep = this.sweepNo;
    return k;
  }

  private forget(label: string, key: string): void {
    const cams = this.index.get(label);
    cams?.delete(key);
    if (cams?.size === 0) this.index.delete(label);
    const ls = this.labelStates.get(label);
    const w = ls?.watches.get(key);
    if (ls && w) {
      ls.watches.delete(key);
      this.watches.delete(w.redisKey);
    }
  }

  private scheduleSweep(): void {
    if (this.closed) return;
    this.sweepTimer = setTimeout(() => {
      this.sweep().then(
        () => this.outages.ok('scan'),
        (err) => this.outages.fail('scan', err),
      ).finally(() => this.scheduleSweep());
    }, this.o.scanIntervalMs);
    this.sweepTimer.unref();
  }

  /**
   * One full SCAN cycle: finds streams of other writers and drops deleted ones; then one pipelined
   * round trip reads the newest entry of new streams and of streams that look idle, and asks
   * whether idle streams due for a recheck have anything new.
   */
  private async sweep(): Promise<void> {
    const sweep = ++this.sweepNo;
    try {
      const check: { label: string; key: string; redisKey: string }[] = [];
      let cursor = '0';
      do {
        const [next, found] = await this.cmd.scan(cursor, 'MATCH', STREAM_PATTERN, 'COUNT', 1000, 'TYPE', 'stream');
        cursor = next;
        for (const redisKey of found) {
          const p = parseStreamKey(redisKey);
          if (!p) continue; // not in the layout
          const k = this.index.get(p.label)?.get(p.key);
          if (k) k.seenSweep = sweep;
          else check.push({ ...p, redisKey });
        }
      } while (cursor !== '0');
      if (this.closed) return;

      const now = Date.now();
      const dead: Known[] = [];
      for (const [label, cams] of this.index) {
        for (const [key, k] of cams) {
          if (k.seenSweep < sweep) this.forget(label, key); // deleted: a full cycle did not find it
          else if (!k.idle && now - idTime(k.lastId) > this.o.idleMs) check.push({ label, key, redisKey: k.redisKey });
          else if (k.idle && now - k.checkedAt >= this.idleRecheckMs) dead.push(k);
        }
      }
      const [newest, revived] = await Promise.all([
        Promise.all(check.map((c) => this.newest(c.redisKey))),
        this.newerThanLast(dead),
      ]);
      if (this.closed) return;
      check.forEach((c, i) => this.learn(c.label, c.key, c.redisKey, newest[i], now));
      for (const k of dead) k.checkedAt = now;
      for (const [redisKey, id] of revived) {
        const p = parseStreamKey(redisKey);
        if (p) this.note(p.label, p.key, redisKey, id, now);
      }
    } catch (err) {
      this.sweepFailing = true;
      throw err;
    }
    this.sweepFailing = false;
  }

  /**
   * Idle streams that have an entry after the last one seen, with that entry's id. One
   * non-blocking XREAD COUNT 1 names them all and returns only the streams that moved, so the
   * (often many) dead cameras cost no frame bytes. (On a Cluster: one XREAD per hash slot.)
   */
  private async newerThanLast(dead: Known[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (dead.length === 0) return out;
    const reply = await this.cmd.xreadBuffer(
      'COUNT', 1, 'STREAMS', ...dead.map((k) => k.redisKey), ...dead.map((k) => k.lastId),
    );
    for (const [key, entries] of reply ?? []) {
      const e = entries[0];
      if (e) out.set(key.toString(), e[0].toString());
    }
    return out;
  }

  /** Applies a stream's newest entry read by the sweep (undefined: the stream is empty or gone). */
  private learn(label: string, key: string, redisKey: string, e: Entry | undefined, now: number): void {
    if (!e) {
      const k = this.index.get(label)?.get(key);
      if (k) Object.assign(k, { idle: true, checkedAt: now });
      return;
    }
    const id = e[0].toString();
    const k = this.note(label, key, redisKey, id, now);
    k.checkedAt = now;
    const ls = this.labelStates.get(label);
    if (!ls) return;
    // A new (or revived) camera of a watched label: its newest frame now, then the reader's.
    if (k.idle) this.watchOf(ls, label, key, redisKey, k.lastId);
    else this.offer(ls, this.watchOf(ls, label, key, redisKey, '0-0'), id, e[1]);
  }

  /**
   * XREVRANGE key + - COUNT 1: the newest entry, or undefined when there is none. A key that Redis
   * refuses (say it is no longer a stream) reads as empty; a lost connection still throws.
   */
  private async newest(redisKey: string): Promise<Entry | undefined> {
    try {
      return (await this.cmd.xrevrangeBuffer(redisKey, '+', '-', 'COUNT', 1))[0];
    } catch (err) {
      if (err instanceof ReplyError) return undefined;
      throw err;
    }
  }

  private assertUp(): void {
    if (this.closed || this.cmd.status !== 'ready' || this.sweepFailing) {
      throw frameStoreError(new Error(this.closed ? 'store closed' : 'Redis not reachable'));
    }
  }
}
