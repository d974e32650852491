// The accounts part of the service, assembled: database, sessions, pushes, caches,
// the Authenticator, the HTTP routes and what the CLI and tests need.
import type { FastifyPluginAsync } from 'fastify';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import { Errors } from '../errors.js';
import { connectRedis, redisReady } from '../redis/connect.js';
import { openDatabase, type Database } from '../db/database.js';
import type { Authenticator } from './authenticator.js';
import type { Role } from './principal.js';
import { TokenService } from './tokens.js';
import { SqlSessionStore } from './sessions.js';
import { LocalEventBus, RedisEventBus, type EventBus } from './events.js';
import { MemoryLoginLimiter, RedisLoginLimiter, type LoginLimiter } from './login-limiter.js';
import { SessionAuthenticator } from './session-authenticator.js';
import { SessionManager } from './session-manager.js';
import { warmPasswords } from './passwords.js';
import { AccountsRepository, type UserView } from '../users/repository.js';
import { AccountsService } from '../users/service.js';
import { accountsRoutes } from '../users/routes.js';

export type { UserView } from '../users/repository.js';

export interface AccountsLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AccountsOptions {
  log: AccountsLog;
  /** PostgreSQL schema for the accounts tables (tests give each file its own). */
  schema?: string | undefined;
  /** Failed logins per client address before 429 (default: 5 × loginMaxFailures). */
  loginIpMaxFailures?: number;
  /** How long to wait for Redis at start (default 5 s). */
  redisTimeoutMs?: number;
}

export interface Accounts {
  authenticator: Authenticator;
  /** The HTTP API (login, refresh, logout, me, users, sites): register it with app.register. */
  routes: FastifyPluginAsync;
  createUser(input: { username: string; password: string; role: Role; sites?: string[] }): Promise<UserView>;
  /** Starts a session for an existing active user and signs its tokens (CLI, tests, bench). */
  issueTokens(username: string): Promise<{ access_token: string; refresh_token: string }>;
  /** When the users table is empty: creates ADMIN_USERNAME; `password` is set only when generated. */
  ensureFirstAdmin(): Promise<{ created: boolean; username: string; password?: string }>;
  /** Resolves when the database (and Redis, when configured) answers; else throws DB_UNAVAILABLE. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** The accounts' Redis connection (null without REDIS_URL): e.g. for @fastify/rate-limit's store. */
  readonly redis: Redis | null;
  /** The service behind the routes (CLI). */
  readonly service: AccountsService;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** How often expired sessions are deleted. */
const PURGE_EVERY_MS = 10 * 60 * 1000;
/** With Redis (pushes reach every instance), cached entries are still re-read after this long. */
const REDIS_CACHE_MAX_AGE_MS = 60_000;

export async function createAccounts(config: Config, opts: AccountsOptions): Promise<Accounts> {
  const { log } = opts;
  const database: Database = await openDatabase(config, {
    schema: opts.schema,
    onPoolError: (err) => log.warn({ err: err.message }, 'accounts database connection lost'),
  });
  let redis: Redis | null = null;
  let bus: EventBus;
  const closers: Array<() => Promise<void>> = [];
  try {
    const tokens = new TokenService(config.jwtSecret, config.accessTokenTtlSec, config.refreshTokenTtlSec);
    const limits = {
      maxPerUser: config.loginMaxFailures,
      maxPerIp: opts.loginIpMaxFailures ?? config.loginMaxFailures * 5,
      windowMs: config.loginWindowMs,
    };
    const store = new SqlSessionStore(database.db);
    let limiter: LoginLimiter;
    if (config.redisUrl) {
      const r = connectRedis(config.redisUrl, 'framestream-accounts');
      redis = r;
      r.on('error', (err: Error) => log.warn({ err: err.message }, 'accounts Redis error'));
      closers.push(async () => {
        await r.quit().catch(() => r.disconnect());
      });
      await redisReady(r, opts.redisTimeoutMs ?? 5000, 'accounts');
      const rbus = new RedisEventBus(r, config.redisUrl, `${config.redisPrefix}accounts:events`, log);
      closers.unshift(() => rbus.close());
      await rbus.start(opts.redisTimeoutMs ?? 5000);
      bus = rbus;
      limiter = new RedisLoginLimiter(r, config.redisPrefix, limits);
    } else {
      bus = new LocalEventBus(log);
      limiter = new MemoryLoginLimiter(limits);
    }

    const repo = new AccountsRepository(database.db, database.dialect);
    const authenticator = new SessionAuthenticator(
      tokens,
      store,
      repo,
      bus,
      {
        recheckMs: config.accessRecheckMs,
        // Without Redis, another process (the CLI, another instance on PostgreSQL) cannot push to
        // this one: cached entries are re-read after one recheck interval.
        maxAgeMs: config.redisUrl ? REDIS_CACHE_MAX_AGE_MS : config.accessRecheckMs,
      },
      log,
    );
    const sessions = new SessionManager(tokens, store, bus, authenticator, log);
    const service = new AccountsService(repo, sessions, bus, limiter, log);
    const routes = accountsRoutes(service, authenticator);

    const purgeExpired = () =>
      store.purgeExpired().then(
        (n) => n > 0 && log.debug({ sessions: n }, 'expired sessions deleted'),
        (err: unknown) => log.warn({ err: (err as Error).message }, 'could not delete expired sessions'),
      );
    void purgeExpired();
    const purge = setInterval(() => void purgeExpired(), PURGE_EVERY_MS);
    purge.unref();
    void warmPasswords();

    let closed: Promise<void> | null = null;
    const accounts: Accounts = {
      authenticator,
      routes,
      redis,
      service,
      createUser: (input) => service.createUser(input),
      issueTokens: (username) => service.issueTokens(username),
      ensureFirstAdmin: () => service.ensureFirstAdmin(config.adminUsername, config.adminPassword),
      async ping() {
        try {
          await withTimeout(sql`select 1`.execute(database.db), 2000);
          if (redis) await withTimeout(redis.ping(), 2000);
        } catch (err) {
          const e = new Errors.DB_UNAVAILABLE();
          (e as Error & { cause?: unknown }).cause = err;
          throw e;
        }
      },
      close() {
        closed ??= (async () => {
          clearInterval(purge);
          authenticator.close();
          for (const c of closers) await c().catch(() => {});
          await database.close().catch(() => {});
        })();
        return closed;
      },
    };
    log.debug({ database: database.where }, 'accounts ready');
    return accounts;
  } catch (err) {
    for (const c of closers) await c().catch(() => {});
    await database.close().catch(() => {});
    throw err;
  }
}
