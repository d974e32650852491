// The one owner of the service's shared connections: the database (SQLite or PostgreSQL: accounts
// and the safety-event log) and, with REDIS_URL or REDIS_CLUSTER_NODES, Redis. Opened once at
// start-up, handed to every part that needs them (frame store, accounts, rate limits, events), closed once.
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { RedisConnections } from './redis/connections.js';
import type { Logger } from './lib/log.js';

export interface Connections {
  database: Database;
  /** Null without REDIS_URL and REDIS_CLUSTER_NODES. */
  redis: RedisConnections | null;
  /** Resolves when the database answers (readiness). */
  pingDatabase(): Promise<void>;
  close(): Promise<void>;
}

export interface ConnectionOptions {
  log: Logger;
  /** PostgreSQL schema for the accounts tables (tests give each file its own). */
  dbSchema?: string | undefined;
  /** How long to wait for Redis at start (default 5 s). */
  redisTimeoutMs?: number;
}

export async function openConnections(config: Config, opts: ConnectionOptions): Promise<Connections> {
  const { log } = opts;
  const database = await openDatabase(config, {
    schema: opts.dbSchema,
    onPoolError: (err) => log.warn({ err: err.message }, 'accounts database connection lost'),
  });
  let redis: RedisConnections | null = null;
  const target = config.redisUrl ? { url: config.redisUrl } : config.redisCluster ? { cluster: config.redisCluster } : null;
  if (target) {
    try {
      redis = await RedisConnections.open(target, { log, timeoutMs: opts.redisTimeoutMs });
    } catch (err) {
      await database.close().catch(() => {});
      throw err;
    }
  }
  let closed: Promise<void> | null = null;
  return {
    database,
    redis,
    pingDatabase: () => database.ping(),
    close() {
      closed ??= Promise.allSettled([redis?.close(), database.close()]).then(() => undefined);
      return closed;
    },
  };
}
