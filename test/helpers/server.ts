// Starts the real service on a random port for a test file, with its own data folder, and gives
// tokens through the accounts' own session API (never a way around the guard).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp, type Service } from '../../src/app.js';
import type { Role } from '../../src/auth/principal.js';
import { Redis } from 'ioredis';
import { parseStreamKey, STREAM_PATTERN } from '../../src/frames/keys.js';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const TEST_SECRET = 'test-secret-0123456789abcdef';

export interface TestService extends Service {
  url: string;
  /** Creates a user (if new; its password is testPassword(username)) and returns an access token with a live session. */
  token(username: string, role?: Role, sites?: string[]): Promise<string>;
  /** Stops the service and starts it again on the same port with the same data (a restart). */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The password token() gives the users it creates (browser tests log in with it). */
export function testPassword(username: string): string {
  return `pw-${username}-12345678`;
}

export async function startService(env: Record<string, string> = {}): Promise<TestService> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-test-'));
  const config: Config = loadConfig({
    JWT_SECRET: TEST_SECRET,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    LOGIN_MAX_FAILURES: '1000',
    LABELS_RATE_MAX: '100000',
    ...env,
  });
  let svc: Service;
  try {
    svc = await buildApp(config, { logger: false });
  } catch (err) {
    if (config.redisUrl && /ECONNREFUSED|connect|Redis/i.test(String(err))) {
      throw new Error(`Redis is not running on ${config.redisUrl} (start it: redis-server --daemonize yes): ${String(err)}`);
    }
    throw err;
  }
  await svc.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = svc.app.server.address() as AddressInfo;
  const users = new Set<string>();
  const running: TestService = {
    ...svc,
    url: `http://127.0.0.1:${port}`,
    async token(username, role = 'admin', sites = []) {
      if (!users.has(username)) {
        await running.accounts.createUser({ username, password: testPassword(username), role, sites });
        users.add(username);
      }
      return (await running.accounts.issueTokens(username)).access_token;
    },
    async restart(downMs = 0) {
      await running.app.close();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      const next = await buildApp(config, { logger: false });
      await next.app.listen({ host: '127.0.0.1', port });
      Object.assign(running, next);
    },
    async stop() {
      await running.app.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (config.redisUrl) await removeOwnStreams(config.redisUrl);
    },
  };
  return running;
}

/** Deletes the streams of the labels this test process made (uniqueLabel puts its pid in them). */
async function removeOwnStreams(url: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    const mine: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', STREAM_PATTERN, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) if (parseStreamKey(k)?.label.includes(`-${process.pid}-`)) mine.push(k);
    } while (cursor !== '0');
    if (mine.length) await redis.del(...mine);
  } catch {
    // A test that stopped Redis on purpose: nothing to clean.
  } finally {
    redis.disconnect();
  }
}

/** The two frame stores every streaming test runs against. */
export const STORES: Array<[string, Record<string, string>]> = [
  ['memory', {}],
  ['redis', { REDIS_URL }],
];
