// The Redis Streams frame store (REDIS_URL or REDIS_CLUSTER_NODES), shared by every instance behind
// a load balancer. Layout exactly as the old backend wrote it (DESIGN.md §2): one stream per camera,
// stream_frame:{b64 label}|{b64 key}, fields frame, warnings, cone_polygons, pole_polygons,
// detection_items, width, height, trimmed with MAXLEN ~.
//
// Redis work per process does not grow with viewers (DESIGN.md §3):
// - the service's shared command client (auto-pipelined) and blocking XREAD loops over the streams
//   of every label that has a listener: one loop on one Redis (redis-reader.ts), one per watched
//   slot on a Redis Cluster (cluster-readers.ts); frames fan out in memory;
// - an in-memory index label -> camera (stream-index.ts), filled by this process's appends, by
//   other instances' announcements (stream-announcements.ts) and by a background SCAN for other
//   writers; labels() and keys() answer from it.
import type { Redis } from 'ioredis';
import { COMMAND_TIMEOUT_MS, Outages, type RedisClient, type RedisConnections } from '../redis/connections.js';
import { frameStoreError } from '../error-mapping.js';
import type { Logger } from '../lib/log.js';
import { storedFrame, type FrameFields, type StoredFrame } from './frame.js';
import { compareIds, parseStreamKey, previousId, streamKey } from './keys.js';
import { entryFields, entryToFrame } from './redis-entry.js';
import { StreamReader, type Entry, type Reader } from './redis-reader.js';
import { ClusterReaders } from './cluster-readers.js';
import { newestEntry, StreamIndex, type Known } from './stream-index.js';
import { StreamAnnouncements, type Announced } from './stream-announcements.js';
import type { FrameListener, FrameStore, LabelSubscription, RemovalListener } from './store.js';

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
  /** REDIS_PREFIX: announcements between instances use the service's own keys and channel. */
  prefix: string;
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
  listeners: Set<{ frame: FrameListener; removed?: RemovalListener }>;
  watches: Map<string, Watch>;
  /** The first subscription's load of the newest entries (later ones wait for it). */
  loaded: Promise<void>;
}

export class RedisFrameStore implements FrameStore {
  readonly kind = 'redis' as const;
  private readonly cmd: RedisClient;
  private readonly reader: Reader;
  private readonly outages: Outages;
  private readonly log: Logger;
  private readonly index: StreamIndex;
  private announcements: StreamAnnouncements | null = null;
  /** Announcements in flight, by stream: later appends to the stream wait for them. */
  private readonly announcing = new Map<string, Promise<void>>();
  /** Labels with listeners, and their streams by Redis key (what the reader reads). */
  private readonly labelStates = new Map<string, LabelState>();
  private readonly watches = new Map<string, Watch>();
  private closed = false;
  private closing: Promise<void> | null = null;

  /** Opens the store; resolves once the first SCAN filled the index (else rejects, store closed). */
  static async open(opts: RedisFrameStoreOptions): Promise<RedisFrameStore> {
    const blockMs = opts.blockMs ?? 2000;
    // One Redis: one reader on a connection of its own. A cluster's readers connect per slot.
    const readConn = opts.redis.isCluster
      ? null
      : await opts.redis.dedicated('framestore-reader', { commandTimeout: blockMs + COMMAND_TIMEOUT_MS });
    const store = new RedisFrameStore(opts, readConn, blockMs);
    await store.init(opts.connectTimeoutMs ?? 5000);
    return store;
  }

  private constructor(
    private readonly o: RedisFrameStoreOptions,
    private readonly readConn: Redis | null,
    blockMs: number,
  ) {
    this.log = o.log;
    this.outages = new Outages(o.log, 'Redis frame store');
    this.cmd = o.redis.client;
    this.index = new StreamIndex({
      redis: o.redis,
      scanIntervalMs: o.scanIntervalMs,
      idleMs: o.idleMs,
      // A stream found idle is read again this often, in case another writer brought it back.
      idleRecheckMs: o.idleRecheckMs ?? 10 * o.scanIntervalMs,
      onForgotten: (label, key) => this.unwatch(label, key),
      onFound: (label, key, known, entry) => this.found(label, key, known, entry),
      onSweep: (err) => (err ? this.outages.fail('scan', err) : this.outages.ok('scan')),
    });
    const reading = {
      blockMs,
      watched: () => [...this.watches.values()],
      onEntries: (redisKey: string, entries: Entry[]) => this.onEntries(redisKey, entries),
      outages: this.outages,
      log: this.log,
    };
    const conn = readConn;
    this.reader = conn
      ? new StreamReader({ ...reading, link: async () => ({ conn, control: this.cmd as Redis }) })
      : new ClusterReaders({ ...reading, redis: o.redis });
  }

  private async init(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      // Subscribed before the first sweep: a stream announced meanwhile is not missed.
      this.announcements = await Promise.race([StreamAnnouncements.start({
        redis: this.o.redis,
        prefix: this.o.prefix,
        ttlMs: Math.max(60_000, 10 * this.o.scanIntervalMs),
        onAnnounced: (a) => this.announced(a),
        onRetracted: (label, key) => {
          if (this.index.get(label, key)) this.index.forget(label, key);
        },
        onResync: () => this.index.soon(),
        log: this.log,
      }), timeout]);
      await Promise.race([this.index.start(), timeout]);
    } catch (err) {
      await this.close();
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`${this.o.redis.where} is not reachable: ${why}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    if (this.closed) throw new Error('Redis frame store closed while opening');
    this.reader.start();
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
    const { fresh } = this.index.note(label, key, redisKey, id);
    // Local listeners get the frame now; the cursor keeps the reader from delivering it again.
    const ls = this.labelStates.get(label);
    if (ls) this.offer(ls, this.watchOf(ls, label, key, redisKey, '0-0'), id, storedFrame(label, key, id, fields));
    // Answered once every instance can find the stream (see stream-announcements.ts).
    if (fresh) await this.announce(label, redisKey, id);
    else await this.announcing.get(redisKey);
    return id;
  }

  private announce(label: string, redisKey: string, id: string): Promise<void> {
    const done = (async () => {
      try {
        await this.announcements?.announce(label, redisKey, id);
      } catch (err) {
        // The frame is stored; other instances find the stream by their next sweep.
        this.outages.fail('announcements', err);
        return;
      }
      this.outages.ok('announcements');
    })().finally(() => {
      if (this.announcing.get(redisKey) === done) this.announcing.delete(redisKey);
    });
    this.announcing.set(redisKey, done);
    return done;
  }

  // ---- reading ----

  async latest(label: string, key: string): Promise<StoredFrame | null> {
    this.assertUp();
    const redisKey = streamKey(label, key);
    const w = this.watches.get(redisKey);
    if (w?.newest) return w.newest;
    let e: Entry | undefined;
    try {
      e = await newestEntry(this.cmd, redisKey);
    } catch (err) {
      throw frameStoreError(err);
    }
    return e ? entryToFrame(label, key, e[0].toString(), e[1]) : null;
  }

  async labels(): Promise<string[]> {
    this.assertUp();
    return this.index.labels();
  }

  async keys(label: string): Promise<string[]> {
    this.assertUp();
    return this.index.keys(label);
  }

  async subscribe(label: string, listener: FrameListener, onRemoved?: RemovalListener): Promise<LabelSubscription> {
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
    if (this.labelStates.get(label) !== ls) return this.subscribe(label, listener, onRemoved);
    // Snapshot and registration in one tick: a frame is either in the snapshot or delivered later.
    const snapshot: StoredFrame[] = [];
    for (const w of ls.watches.values()) if (w.newest) snapshot.push(w.newest);
    const entry = { frame: listener, removed: onRemoved };
    ls.listeners.add(entry);
    const state = ls;
    return {
      snapshot,
      unsubscribe: () => {
        state.listeners.delete(entry);
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
    this.index.stop();
    for (const ls of this.labelStates.values()) ls.listeners.clear();
    this.labelStates.clear();
    this.watches.clear();
    this.closing = (async () => {
      const stopped = this.reader.stop();
      this.readConn?.disconnect(); // ends a blocked XREAD at once
      await Promise.all([stopped, this.announcements?.close().catch(() => {})]);
    })();
    return this.closing;
  }

  // ---- subscriptions ----

  /**
   * First subscription of a label: the newest entry of each known stream, one pipelined round trip.
   * A label the index does not know is looked up among the streams other instances announced
   * lately, before it is taken for one without cameras.
   */
  private async load(label: string, ls: LabelState): Promise<void> {
    const cams = this.index.camerasOf(label).map(([key, known]) => ({ key, redisKey: known.redisKey, known: known as Known | undefined }));
    if (!cams.some((c) => !c.known!.idle) && this.announcements) {
      for (const redisKey of await this.announcements.recent(label)) {
        const p = parseStreamKey(redisKey)!;
        if (!this.index.get(label, p.key)) cams.push({ key: p.key, redisKey, known: undefined });
      }
    }
    const live = cams.filter((c) => !c.known?.idle);
    const newest = await Promise.all(live.map((c) => newestEntry(this.cmd, c.redisKey)));
    if (this.labelStates.get(label) !== ls) return;
    live.forEach((c, i) => {
      const e = newest[i];
      if (!c.known) {
        if (!e) return; // announced, but gone since
        c.known = this.index.note(label, c.key, c.redisKey, e[0].toString()).known;
      }
      if (this.index.get(label, c.key) !== c.known) return; // deleted meanwhile
      const w = this.watchOf(ls, label, c.key, c.redisKey, '0-0');
      if (e) this.offer(ls, w, e[0].toString(), e[1]);
    });
    // Idle cameras are not in the snapshot, but are read from their last entry on, so a camera
    // that comes back reaches the listeners at once.
    for (const c of cams) if (c.known?.idle) this.watchOf(ls, label, c.key, c.redisKey, c.known.lastId);
  }

  /** The watch of a stream of a subscribed label; a new one joins the reader's XREAD at once. */
  private watchOf(ls: LabelState, label: string, key: string, redisKey: string, cursor: string): Watch {
    let w = ls.watches.get(key);
    if (!w) {
      w = { label, key, redisKey, cursor, newest: null };
      ls.watches.set(key, w);
      this.watches.set(redisKey, w);
      this.reader.kick(redisKey);
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
    for (const l of ls.listeners) {
      try {
        l.frame(frame);
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
      this.index.note(w.label, w.key, redisKey, id);
      this.offer(ls, w, id, fields);
    }
  }

  private drop(label: string, ls: LabelState): void {
    if (this.labelStates.get(label) !== ls) return;
    this.labelStates.delete(label);
    for (const w of ls.watches.values()) if (this.watches.get(w.redisKey) === w) this.watches.delete(w.redisKey);
  }

  // ---- what the index and the other instances tell ----

  /** A stream left the index (removed, or deleted in Redis): its watch goes, its listeners are told. */
  private unwatch(label: string, key: string): void {
    const ls = this.labelStates.get(label);
    if (!ls) return;
    const w = ls.watches.get(key);
    if (w) {
      ls.watches.delete(key);
      this.watches.delete(w.redisKey);
    }
    for (const l of ls.listeners) l.removed?.(key);
  }

  /** The sweep read a new (or revived) stream: a watched label's listeners get it, then the reader's. */
  private found(label: string, key: string, k: Known, e: Entry): void {
    const ls = this.labelStates.get(label);
    if (!ls) return;
    if (k.idle) this.watchOf(ls, label, key, k.redisKey, k.lastId);
    else this.offer(ls, this.watchOf(ls, label, key, k.redisKey, '0-0'), e[0].toString(), e[1]);
  }

  /** DELETE /streams: the stream and its announcement go; the index forgets it, so its listeners are told. */
  async remove(label: string, key: string): Promise<boolean> {
    this.assertUp();
    const redisKey = streamKey(label, key);
    let deleted: number;
    try {
      deleted = await this.cmd.del(redisKey);
      await this.announcements?.retract(label, redisKey);
    } catch (err) {
      throw frameStoreError(err);
    }
    const known = this.index.get(label, key) !== undefined;
    if (known) this.index.forget(label, key);
    return deleted > 0 || known;
  }

  /** Another instance wrote a stream new to it: known at once; a watched label reads it from that entry on. */
  private announced(a: Announced): void {
    if (this.closed) return;
    this.index.note(a.label, a.key, a.redisKey, a.id);
    const ls = this.labelStates.get(a.label);
    if (ls) this.watchOf(ls, a.label, a.key, a.redisKey, previousId(a.id));
  }

  private assertUp(): void {
    if (this.closed || this.cmd.status !== 'ready' || this.index.sweepFailing) {
      throw frameStoreError(new Error(this.closed ? 'store closed' : 'Redis not reachable'));
    }
  }
}
