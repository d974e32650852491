// The service's Redis connections, opened once (by src/connections.ts) and shared: one command
// connection (auto-pipelined) for the frame store, the session news and the rate limits, and the
// dedicated connections that must not carry other commands (a blocking XREAD, a SUBSCRIBE).
// Every connection fails the same way when Redis is lost: commands fail at once (no offline queue:
// callers answer 503) and the client keeps reconnecting.
import { createRequire } from 'node:module';
import type { ChainableCommander, Redis, RedisOptions } from 'ioredis';
import { maskPassword } from '../config.js';
import type { Logger } from '../lib/log.js';

// Loaded on first use: a service without REDIS_URL never pays ioredis's memory.
const require = createRequire(import.meta.url);

/** How long a command may wait for its answer before it fails (and the caller answers 503). */
export const COMMAND_TIMEOUT_MS = 5000;

const BASE_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  // Reconnect attempts back off to one a second: a Redis that is back is used again within about a
  // second (uploads succeed again within two), and a dead one costs one failed connect a second.
  retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 1000),
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

/** Waits until an ioredis connection is ready (commands fail at once before: no offline queue). */
function ready(redis: Redis, timeoutMs: number): Promise<void> {
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
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const timer = setTimeout(
      () => done(new Error(`no answer within ${timeoutMs} ms${lastErr ? `: ${String((lastErr as Error).message ?? lastErr)}` : ''}`)),
      timeoutMs,
    );
    redis.on('ready', onReady);
    redis.on('error', onErr);
  });
}

export class RedisConnections {
  /** Commands of every part (auto-pipelined: concurrent commands share round trips). */
  readonly client: Redis;
  private readonly dedicatedConns = new Set<Redis>();
  private readonly outages: Outages;
  private closing: Promise<void> | null = null;

  private constructor(
    readonly url: string,
    log: Logger,
    private readonly timeoutMs: number,
  ) {
    this.outages = new Outages(log, 'Redis');
    const { Redis: RedisClient } = require('ioredis') as typeof import('ioredis');
    this.client = new RedisClient(url, { ...BASE_OPTIONS, connectionName: 'framestream', enableAutoPipelining: true });
    this.watch(this.client, 'connection');
  }

  /** Connects; rejects with an error naming REDIS_URL's address when Redis does not answer in time. */
  static async open(url: string, opts: { log: Logger; timeoutMs?: number }): Promise<RedisConnections> {
    const conns = new RedisConnections(url, opts.log, opts.timeoutMs ?? 5000);
    try {
      await ready(conns.client, conns.timeoutMs);
    } catch (err) {
      await conns.close();
      throw new Error(`Redis at ${maskPassword(url)} is not reachable: ${(err as Error).message}`, { cause: err });
    }
    return conns;
  }

  /**
   * A connection of its own (a blocking read, a subscription), closed with the others. Resolves
   * once it is ready.
   */
  async dedicated(name: string, extra: RedisOptions = {}): Promise<Redis> {
    if (this.closing) throw new Error('Redis connections are closed');
    const conn = this.client.duplicate({ ...BASE_OPTIONS, connectionName: name, enableAutoPipelining: false, ...extra });
    this.dedicatedConns.add(conn);
    this.watch(conn, name);
    try {
      await ready(conn, this.timeoutMs);
    } catch (err) {
      this.dedicatedConns.delete(conn);
      conn.disconnect();
      throw new Error(`Redis at ${maskPassword(this.url)} is not reachable (${name}): ${(err as Error).message}`, { cause: err });
    }
    return conn;
  }

  private watch(conn: Redis, part: string): void {
    conn.on('error', (err: Error) => this.outages.fail(part, err));
    conn.on('ready', () => this.outages.ok(part));
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
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
