// Accounts in tests: users and tokens through the accounts' own API (createUser + issueTokens: a
// real session, never a way around the guard), and the service started on each accounts backend.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp, type Service } from '../../src/app.js';
import type { Accounts, UserView } from '../../src/auth/accounts.js';
import type { Role } from '../../src/auth/principal.js';
import { dropSchema } from '../../src/db/database.js';

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const SECRET = 'accounts-test-secret-0123456789';

/** Where accounts live: SQLite in a temp DATA_DIR, PostgreSQL in a schema of its own, sessions in Redis. */
export interface Backend {
  name: string;
  pg: boolean;
  redis: boolean;
}

export const SQLITE: Backend = { name: 'sqlite', pg: false, redis: false };
export const POSTGRES: Backend = { name: 'postgres', pg: true, redis: false };
export const POSTGRES_REDIS: Backend = { name: 'postgres+redis', pg: true, redis: true };
/** Every account test file runs against at least SQLite and PostgreSQL. */
export const BACKENDS: Backend[] = [SQLITE, POSTGRES, POSTGRES_REDIS];

/** One isolated accounts store (data folder, PostgreSQL schema, Redis prefix) for a test file. */
export class AccountsSandbox {
  readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'acc-test-'));
  readonly schema: string | undefined;
  readonly redisPrefix = `acctest:${randomBytes(6).toString('hex')}:`;

  constructor(readonly backend: Backend, readonly name: string) {
    this.schema = backend.pg ? `acc_${name.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}` : undefined;
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      NODE_ENV: 'test',
      JWT_SECRET: SECRET,
      DATA_DIR: this.dataDir,
      LOG_LEVEL: 'silent',
      LOGIN_MAX_FAILURES: '1000',
      LABELS_RATE_MAX: '100000',
      ACCESS_RECHECK_MS: '300',
      ...(this.backend.pg ? { DATABASE_URL: PG_URL } : {}),
      ...(this.backend.redis ? { REDIS_URL, REDIS_PREFIX: this.redisPrefix } : {}),
      ...extra,
    };
  }

  config(extra: Record<string, string> = {}): Config {
    return loadConfig(this.env(extra));
  }

  async cleanup(): Promise<void> {
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    if (this.schema) await dropSchema(PG_URL, this.schema);
    if (this.backend.redis) {
      const r = new Redis(REDIS_URL);
      try {
        let cursor = '0';
        do {
          const [next, keys] = await r.scan(cursor, 'MATCH', `${this.redisPrefix}*`, 'COUNT', 500);
          cursor = next;
          if (keys.length) await r.del(...keys);
        } while (cursor !== '0');
      } finally {
        r.disconnect();
      }
    }
  }
}

export interface TestServer extends Service {
  url: string;
  close(): Promise<void>;
}

/** The real service (the lead's buildApp) on a random port, accounts in the sandbox. */
export async function startServer(sandbox: AccountsSandbox, env: Record<string, string> = {}): Promise<TestServer> {
  const config = sandbox.config(env);
  const svc = await buildApp(config, { logger: false, dbSchema: sandbox.schema });
  await svc.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = svc.app.server.address() as AddressInfo;
  return { ...svc, url: `http://127.0.0.1:${port}`, close: () => svc.app.close() };
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

/**
 * Creates the users (with accounts.createUser) and starts a session for each (accounts.issueTokens).
 * `app` must be listening: `url` is where to send requests with these tokens.
 */
export async function seedUsers(app: FastifyInstance, accounts: Accounts, specs: UserSpec[]): Promise<{ url: string; users: Record<string, SeededUser> }> {
  const addr = app.server.address() as AddressInfo | null;
  const url = addr ? `http://127.0.0.1:${addr.port}` : '';
  const users: Record<string, SeededUser> = {};
  await Promise.all(
    specs.map(async (s) => {
      const password = s.password ?? `pw-${s.username}-12345678`;
      const view = await accounts.createUser({ username: s.username, password, role: s.role, sites: s.sites ?? [] });
      const tokens = await accounts.issueTokens(s.username);
      users[s.username] = { ...view, password, ...tokens };
    }),
  );
  return { url, users };
}

export interface Reply {
  status: number;
  body: any;
  headers: Headers;
  ms: number;
}

/** A JSON request to the server (token as Bearer when given). */
export async function call(url: string, method: string, route: string, opts: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const t0 = performance.now();
  const res = await fetch(url + route, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  const ms = performance.now() - t0;
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, headers: res.headers, ms };
}

/** The payload of a JWT, without checking it (to build refused-token cases from a real session). */
export function payloadOf(token: string): any {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

export async function eventually(cond: () => boolean | Promise<boolean>, ms = 2000, what = 'condition'): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}
