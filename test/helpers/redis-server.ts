// Redis for tests: the shared server on 127.0.0.1:6379, or a private redis-server child process on a
// spare port (for tests that count commands: INFO commandstats is server-wide).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisConnections } from '../../src/redis/connections.js';
import { RedisFrameStore, type RedisFrameStoreOptions } from '../../src/frames/redis-store.js';
import { eventually } from './http.js';
import { jpeg, seqOf, sleep, uniqueLabel } from './frames.js';

export const SHARED_REDIS_URL = 'redis://127.0.0.1:6379';

/** A client of the shared Redis; fails with a clear message when it is not running. */
export async function sharedRedis(): Promise<Redis> {
  const r = new Redis(SHARED_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    await r.ping();
  } catch {
    r.disconnect();
    throw new Error('Redis is not running on 127.0.0.1:6379 (start it: redis-server --daemonize yes)');
  }
  return r;
}

export interface PrivateRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` (no persistence) on `port`, or on a random spare port, and resolves once it
 * answers PING. The caller must stop() it.
 */
export async function startPrivateRedis(port?: number): Promise<PrivateRedis> {
  if (port !== undefined) return startOn(port);
  let lastErr: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 6390 + Math.floor(Math.random() * 2000);
    try {
      return await startOn(port);
    } catch (err) {
      lastErr = err; // most likely the port was taken: try another
    }
  }
  throw new Error(`could not start a private redis-server: ${String(lastErr)}`);
}

async function startOn(port: number): Promise<PrivateRedis> {
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  child.once('error', () => {});
  const stop = async () => {
    if (!exited) child.kill('SIGKILL');
    await exit;
  };

  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && !exited) {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      await r.connect();
      // Another test's server may hold the port: make sure this one is ours.
      const info = await r.info('server');
      r.disconnect();
      if (!info.includes(`process_id:${child.pid}\r`)) throw new Error(`port ${port} is taken`);
      return { url, port, stop };
    } catch (err) {
      r.disconnect();
      if (err instanceof Error && err.message.includes('is taken')) break;
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  await stop();
  throw new Error(`redis-server on port ${port} did not answer PING: ${output.slice(-500)}`);
}

// ---- small fixtures shared by the Redis frame store tests ----

/** A logger that keeps what it is given, for assertions, and prints nothing. */
export function memoryLog() {
  const lines: { level: string; msg: string; obj: unknown }[] = [];
  const at = (level: string) => (obj: unknown, msg?: string) => void lines.push({ level, msg: msg ?? '', obj });
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

/** Image bytes carrying a camera and a sequence number (the same frames as the HTTP tests use). */
export const image = (cam: number, seq: number, size = 64): Buffer => jpeg(seq, size, cam);
export const imageSeq = seqOf;
export { sleep, uniqueLabel };

export function waitFor(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<number> {
  return eventually(pred, timeoutMs, what);
}

/**
 * A Redis frame store on connections of its own (as src/connections.ts opens them for the service);
 * closing the store closes them too.
 */
export async function openRedisStore(
  opts: Omit<RedisFrameStoreOptions, 'redis' | 'prefix'> & { url: string; prefix?: string },
): Promise<RedisFrameStore> {
  const { url, prefix, ...rest } = opts;
  const redis = await RedisConnections.open(url, { log: rest.log, timeoutMs: rest.connectTimeoutMs });
  try {
    // A prefix of its own unless given: stores on one prefix are instances of one deployment
    // (they announce their streams to each other); on different ones, like foreign writers.
    const store = await RedisFrameStore.open({ ...rest, prefix: prefix ?? `fstest:${randomBytes(6).toString('hex')}:`, redis });
    const closeStore = store.close.bind(store);
    store.close = async () => {
      await closeStore();
      await redis.close();
    };
    return store;
  } catch (err) {
    await redis.close();
    throw err;
  }
}

