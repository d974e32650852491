// The service's Redis connections, opened once (by src/connections.ts) and shared: one command
// client (auto-pipelined) for the frame store, the session news and the rate limits, the one
// pub/sub subscriber of the process (pubsub.ts), and the dedicated connections that must not carry
// other commands (a blocking XREAD). On a Redis Cluster (REDIS_CLUSTER_NODES) the command client
// is an ioredis Cluster, which sends each command to the master of its key's slot; a dedicated
// connection is then a plain one to one node (client ids, blocking reads and subscriptions are per
// server).
// Every connection fails the same way when Redis is lost: commands fail at once (no offline queue:
// callers answer 503) and the client keeps reconnecting.
import { createRequire } from 'node:module';
import type { ChainableCommander, Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { maskPassword, type RedisClusterSettings } from '../config.js';
import type { Logger } from '../lib/log.js';
import { Subscriber } from './pubsub.js';

// Loaded on first use: a service without REDIS_URL never pays ioredis's memory.
const require = createRequire(import.meta.url);

/** The command client: one Redis, or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: REDIS_URL, or REDIS_CLUSTER_NODES. */
export type RedisTarget = { url: string } | { cluster: RedisClusterSettings };

/** One server of a cluster ("host:port" in ioredis's slot table). */
export interface RedisNode {
  host: string;
  port: number;
}

/** How long a command may wait for its answer before it fails (and the caller answers 503). */
export const COMMAND_TIMEOUT_MS = 5000;

// Reconnect attempts back off to one a second: a Redis that is back is used again within about a
// second (uploads succeed again within two), and a dead one costs one failed connect a second.
const retryStrategy = (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 1000);

const BASE_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  retryStrategy,
  // No resend after a reconnect: the caller was already told the command failed.
  autoResendUnfulfilledCommands: false,
  commandTimeout: COMMAND_TIMEOUT_MS,
};

/** Remembers which parts are failing, so an outage is logged when it starts and when it ends. */
export class Outages {
  private readonly down = new Set<string>();
  constructor(
    private readonly log: Logger,
    private readonly what: string,
  ) {}

  fail(part: string, err: unknown): void {
    if (this.down.has(part)) return;
    this.down.add(part);
    this.log.warn({ err: err instanceof Error ? err.message : String(err) }, `${this.what}: ${part} failing`);
  }

  ok(part: string): void {
    if (this.down.delete(part)) this.log.info({}, `${this.what}: ${part} recovered`);
  }
}

/** Waits until an ioredis connection (or cluster) is ready (commands fail at once before: no offline queue). */
function ready(redis: RedisClient, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let lastErr: unknown = null;
    const onErr = (err: unknown) => {
      lastErr = err;
    };
    const done = (err?: Error) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onErr);
      redis.off('end', onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const why = () => (lastErr ? `: ${String((lastErr as Error).message ?? lastErr)}` : '');
    // A connection that will not retry (retryStrategy null) ends instead of becoming ready.
    const onEnd = () => done(new Error(`connection ended${why()}`));
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms${why()}`)), timeoutMs);
    redis.on('ready', onReady);
    redis.on('error', onErr);
    redis.on('end', onEnd);
  });
}

export class RedisConnections {
  /** Commands of every part (auto-pipelined: concurrent commands share round trips). */
  readonly client: RedisClient;
  /** The client is a Redis Cluster: keys of one command must share a slot. */
  readonly isCluster: boolean;
  /** Where Redis is, for messages (no password). */
  readonly where: string;
  private readonly dedicatedConns = new Set<Redis>();
  private readonly outages: Outages;
  private subscriberConn: Subscriber | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly target: RedisTarget,
    private readonly log: Logger,
    private readonly timeoutMs: number,
  ) {
    this.outages = new Outages(log, 'Redis');
    const ioredis = require('ioredis') as typeof import('ioredis');
    if ('url' in target) {
      this.isCluster = false;
      this.where = `Redis at ${maskPassword(target.url)} (REDIS_URL)`;
      this.client = new ioredis.Redis(target.url, { ...BASE_OPTIONS, connectionName: 'framestream', enableAutoPipelining: true });
    } else {
      this.isCluster = true;
      this.where = `the Redis Cluster at ${target.cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')} (REDIS_CLUSTER_NODES)`;
      const { retryStrategy: _r, enableOfflineQueue: _q, ...nodeOptions } = BASE_OPTIONS;
      const options: ClusterOptions = {
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        clusterRetryStrategy: retryStrategy,
        // A failover is noticed by the next command to the lost master, and by this refresh when
        // no command goes there.
        slotsRefreshInterval: 5000,
        slotsRefreshTimeout: 2000,
        retryDelayOnFailover: 200,
        redisOptions: { ...nodeOptions, ...this.nodeAuth(), connectionName: 'framestream' },
      };
      this.client = new ioredis.Cluster(target.cluster.nodes, options);
    }
    this.watch(this.client, 'connection');
  }

  /** Connects; rejects with an error naming where Redis is when it does not answer in time. */
  static async open(target: RedisTarget | string, opts: { log: Logger; timeoutMs?: number }): Promise<RedisConnections> {
    const conns = new RedisConnections(typeof target === 'string' ? { url: target } : target, opts.log, opts.timeoutMs ?? 5000);
    try {
      await ready(conns.client, conns.timeoutMs);
    } catch (err) {
      await conns.close();
      throw new Error(`${conns.where} is not reachable: ${(err as Error).message}`, { cause: err });
    }
    return conns;
  }

  private nodeAuth(): RedisOptions {
    if ('url' in this.target) return {};
    const { username, password, tls } = this.target.cluster;
    return { ...(username ? { username } : {}), ...(password ? { password } : {}), ...(tls ? { tls: {} } : {}) };
  }

  /**
   * A connection of its own (a blocking read, a subscription), closed with the others. Resolves
   * once it is ready. On a cluster it goes to `node`, or to any node of the cluster.
   */
  async dedicated(name: string, extra: RedisOptions = {}, node?: RedisNode): Promise<Redis> {
    if (this.closing) throw new Error('Redis connections are closed');
    const options = { ...BASE_OPTIONS, connectionName: name, enableAutoPipelining: false, ...extra };
    let conn: Redis;
    if ('url' in this.target) {
      conn = (this.client as Redis).duplicate(options);
    } else {
      const at = node ?? this.anyNode();
      const { Redis: RedisClient } = require('ioredis') as typeof import('ioredis');
      conn = new RedisClient({ ...options, ...this.nodeAuth(), host: at.host, port: at.port });
    }
    this.dedicatedConns.add(conn);
    conn.once('end', () => this.dedicatedConns.delete(conn));
    this.watch(conn, name);
    try {
      await ready(conn, this.timeoutMs);
    } catch (err) {
      this.dedicatedConns.delete(conn);
      conn.disconnect();
      throw new Error(`${this.where} is not reachable (${name}): ${(err as Error).message}`, { cause: err });
    }
    return conn;
  }

  /** The process's one pub/sub subscriber (it connects when a part first listens). */
  subscriber(): Subscriber {
    if (this.closing) throw new Error('Redis connections are closed');
    // It reconnects itself (on a cluster, to another node when its node is lost): no retries here.
    this.subscriberConn ??= new Subscriber(() => this.dedicated('framestream-subscriber', { retryStrategy: () => null }), this.log);
    return this.subscriberConn;
  }

  /** The servers to SCAN: the one Redis, or every master of the cluster. */
  scanTargets(): RedisClient[] {
    return this.isCluster ? (this.client as Cluster).nodes('master') : [this.client];
  }

  /** Cluster only: the master serving `slot` in the client's slot table (null while unknown). */
  masterOf(slot: number): RedisNode | null {
    const key = (this.client as Cluster).slots?.[slot]?.[0];
    if (!key) return null;
    const i = key.lastIndexOf(':');
    return { host: key.slice(0, i), port: Number(key.slice(i + 1)) };
  }

  /** Cluster only: the client's own connection to `node` (for commands about that server, such as CLIENT UNBLOCK). */
  nodeClient(node: RedisNode): Redis | null {
    if (!this.isCluster) return null;
    return (this.client as Cluster).nodes('all').find((n) => n.options.host === node.host && n.options.port === node.port) ?? null;
  }

  /** Cluster only: reads the slot table again (after a failover or a MOVED); resolves within 2 s. */
  refreshTopology(): Promise<void> {
    if (!this.isCluster) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 2000);
      (this.client as Cluster).refreshSlotsCache(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private anyNode(): RedisNode {
    const known = (this.client as Cluster).nodes('all').map((n) => ({ host: n.options.host!, port: n.options.port! }));
    const pool = known.length > 0 ? known : ('cluster' in this.target ? this.target.cluster.nodes : []);
    return pool[Math.floor(Math.random() * pool.length)]!;
  }

  private watch(conn: RedisClient, part: string): void {
    conn.on('error', (err: Error) => this.outages.fail(part, err));
    conn.on('ready', () => this.outages.ok(part));
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.subscriberConn?.close();
      for (const c of this.dedicatedConns) c.disconnect();
      const quit = this.client.quit().catch(() => {});
      await Promise.race([quit, new Promise((r) => setTimeout(r, 1000).unref())]);
      this.client.disconnect();
    })();
    return this.closing;
  }
}

/** Runs a MULTI or pipeline and throws the first error of its commands (ioredis only reports them). */
export async function execOk(p: ChainableCommander): Promise<unknown[]> {
  const res = (await p.exec()) ?? [];
  return res.map(([err, v]) => {
    if (err) throw err;
    return v;
  });
}
