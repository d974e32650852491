// The one way tests start the service: the real app (buildApp) listening on a random port, with a
// data folder, a PostgreSQL schema and a Redis key prefix of its own, and tokens from the accounts'
// own session API (never a way around the guard).
//   const svc = await startService({ store: 'redis', backend: POSTGRES, env: { MAX_FRAME_BYTES: '1024' } });
//   const token = await svc.token('cam-1', 'model_manager', ['north']);
//   ... fetch(`${svc.url}/labels`, ...) ...
//   await svc.stop();
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildApp, type Service } from '../../src/app.js';
import type { Role } from '../../src/auth/principal.js';
import type { UserView } from '../../src/users/repository.js';
import { dropSchema } from '../../src/db/database.js';
import { parseStreamKey, STREAM_PATTERN } from '../../src/frames/keys.js';

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const SECRET = 'test-secret-0123456789abcdef';

/** Where accounts live: SQLite in a temp folder, or PostgreSQL in a schema of its own; `redis` adds REDIS_URL. */
export interface Backend {
  name: string;
  pg: boolean;
  redis: boolean;
  /** Another PostgreSQL than the shared one (a private server that a fault test stops). */
  pgUrl?: string;
}

export const SQLITE: Backend = { name: 'sqlite', pg: false, redis: false };
export const POSTGRES: Backend = { name: 'postgres', pg: true, redis: false };
export const POSTGRES_REDIS: Backend = { name: 'postgres+redis', pg: true, redis: true };
/** Every accounts test file runs against at least SQLite and PostgreSQL. */
export const BACKENDS: Backend[] = [SQLITE, POSTGRES, POSTGRES_REDIS];

/** memory; redis: the shared Redis on 127.0.0.1:6379; cluster: the run's Redis Cluster (global-setup.ts). */
export type StoreKind = 'memory' | 'redis' | 'cluster';
/** The frame stores every streaming test runs against. */
export const STORES: StoreKind[] = ['memory', 'redis', 'cluster'];

/** REDIS_CLUSTER_NODES of the test run's shared Redis Cluster. */
export function testClusterNodes(): string {
  return inject('redisClusterNodes');
}

/** A plain client of where a store kind keeps its frames (to write as another writer would). */
export function plainRedis(store: Exclude<StoreKind, 'memory'>): Redis | Cluster {
  if (store === 'redis') return new Redis(REDIS_URL);
  return new Cluster(testClusterNodes().split(',').map((hp) => ({ host: hp.split(':')[0]!, port: Number(hp.split(':')[1]) })));
}

/**
 * What one or more instances share: a data folder, a PostgreSQL schema (with `backend.pg`) and a
 * Redis key prefix. Two services started on one sandbox are two instances of one deployment.
 */
export class Sandbox {
  readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-test-'));
  readonly schema: string | undefined;
  readonly redisPrefix = `fstest:${randomBytes(6).toString('hex')}:`;
  readonly pgUrl: string;

  constructor(readonly backend: Backend = SQLITE, name = 'svc') {
    this.pgUrl = backend.pgUrl ?? PG_URL;
    this.schema = backend.pg ? `t_${name.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}` : undefined;
  }

  /** The settings of a service on this sandbox (and `extra`). */
  env(extra: Record<string, string> = {}, store: StoreKind = 'memory'): Record<string, string> {
    return {
      NODE_ENV: 'test',
      JWT_SECRET: SECRET,
      DATA_DIR: this.dataDir,
      LOG_LEVEL: 'silent',
      LOGIN_MAX_FAILURES: '1000',
      LABELS_RATE_MAX: '100000',
      ACCESS_RECHECK_MS: '300',
      REDIS_PREFIX: this.redisPrefix,
      ...(this.backend.pg ? { DATABASE_URL: this.pgUrl } : {}),
      ...(store === 'cluster' ? { REDIS_CLUSTER_NODES: testClusterNodes() } : this.backend.redis || store === 'redis' ? { REDIS_URL } : {}),
      ...extra,
    };
  }

  async cleanup(): Promise<void> {
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    if (this.schema) await dropSchema(this.pgUrl, this.schema);
    await deleteRedisKeys(`${this.redisPrefix}*`);
  }
}

export interface ServiceOptions {
  /** Where frames live (default memory; 'redis' is the shared Redis on 127.0.0.1:6379). */
  store?: StoreKind;
  /** Where accounts live (default SQLite). */
  backend?: Backend;
  /** Settings on top of the test defaults (REDIS_URL here overrides the shared one). */
  env?: Record<string, string>;
  /** Another instance's sandbox, to share its accounts and Redis prefix (its owner cleans it up). */
  sandbox?: Sandbox;
  /** Part of the PostgreSQL schema's name, for reading the database by hand. */
  name?: string;
  /** Log lines go here (at env LOG_LEVEL); by default nothing is logged. */
  logStream?: NodeJS.WritableStream;
}

export interface UserSpec {
  username: string;
  role: Role;
  sites?: string[];
  password?: string;
}

export interface SeededUser extends UserView {
  password: string;
  access_token: string;
  refresh_token: string;
}

export interface TestService extends Service {
  url: string;
  sandbox: Sandbox;
  /** Creates the user if new (password testPassword(username)) and returns an access token of a new session. */
  token(username: string, role?: Role, sites?: string[]): Promise<string>;
  /** Stops the service and starts it again on the same port with the same data (a restart). */
  restart(downMs?: number): Promise<void>;
  /** Closes the service, and cleans its sandbox up unless it was given one. */
  stop(): Promise<void>;
}

/** The password that token() and seedUsers() give the users they create (browser tests log in with it). */
export function testPassword(username: string): string {
  return `pw-${username}-12345678`;
}

export async function startService(opts: ServiceOptions = {}): Promise<TestService> {
  const sandbox = opts.sandbox ?? new Sandbox(opts.backend ?? SQLITE, opts.name);
  const config = loadConfig(sandbox.env(opts.env, opts.store));
  const build = () => buildApp(config, { dbSchema: sandbox.schema, ...(opts.logStream ? { logStream: opts.logStream } : { logger: false }) });
  let svc: Service;
  try {
    svc = await build();
  } catch (err) {
    if (!opts.sandbox) await sandbox.cleanup().catch(() => {});
    const msg = String(err);
    if (config.redisUrl && /Redis/i.test(msg)) throw new Error(`Redis is not running on ${config.redisUrl} (start it: redis-server --daemonize yes): ${msg}`);
    if (config.databaseUrl && /ECONNREFUSED|connect/i.test(msg)) throw new Error(`PostgreSQL is not running on ${sandbox.pgUrl}: ${msg}`);
    throw err;
  }
  await svc.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = svc.app.server.address() as AddressInfo;
  const known = new Set<string>();
  const running: TestService = {
    ...svc,
    url: `${config.tlsCert ? 'https' : 'http'}://127.0.0.1:${port}`,
    sandbox,
    async token(username, role = 'admin', sites = []) {
      if (!known.has(username)) {
        await running.accounts.createUser({ username, password: testPassword(username), role, sites }).catch((err: { code?: string }) => {
          if (err.code !== 'DUPLICATE') throw err; // made by another instance of the sandbox
        });
        known.add(username);
      }
      return (await running.accounts.issueTokens(username)).access_token;
    },
    async restart(downMs = 0) {
      await running.app.close();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      const next = await build();
      await next.app.listen({ host: '127.0.0.1', port });
      Object.assign(running, next);
    },
    async stop() {
      await running.app.close();
      if (config.redisUrl) await removeOwnStreams(config.redisUrl);
      if (!opts.sandbox) await sandbox.cleanup();
    },
  };
  return running;
}

/** Creates the users and starts a session for each; `url` is where to send requests with their tokens. */
export async function seedUsers(svc: TestService, specs: UserSpec[]): Promise<{ url: string; users: Record<string, SeededUser> }> {
  const users: Record<string, SeededUser> = {};
  await Promise.all(
    specs.map(async (s) => {
      const password = s.password ?? testPassword(s.username);
      const view = await svc.accounts.createUser({ username: s.username, password, role: s.role, sites: s.sites ?? [] });
      const tokens = await svc.accounts.issueTokens(s.username);
      users[s.username] = { ...view, password, ...tokens };
    }),
  );
  return { url: svc.url, users };
}

async function withRedis(url: string, fn: (r: Redis) => Promise<void>): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await fn(redis);
  } catch {
    // A test that stopped Redis on purpose: nothing to clean.
  } finally {
    redis.disconnect();
  }
}

async function scanAll(redis: Redis, pattern: string, each: (keys: string[]) => Promise<void>): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    await each(keys);
  } while (cursor !== '0');
}

function deleteRedisKeys(pattern: string): Promise<void> {
  return withRedis(REDIS_URL, (r) => scanAll(r, pattern, async (keys) => void (keys.length && (await r.del(...keys)))));
}

/** Deletes the streams of the labels this test process made (uniqueLabel puts its pid in them). */
function removeOwnStreams(url: string): Promise<void> {
  return withRedis(url, (r) =>
    scanAll(r, STREAM_PATTERN, async (keys) => {
      const mine = keys.filter((k) => parseStreamKey(k)?.label.includes(`-${process.pid}-`));
      if (mine.length) await r.del(...mine);
    }),
  );
}
