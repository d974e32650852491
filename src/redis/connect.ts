// One way to open Redis connections, so that every part fails the same way when Redis is lost:
// commands fail at once (no offline queue: callers answer 503) and the client keeps reconnecting.
import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';

// Loaded on first use: a service without REDIS_URL never pays ioredis's memory.
const require = createRequire(import.meta.url);

export function connectRedis(url: string, name: string, extra: RedisOptions = {}): Redis {
  const { Redis: RedisClient } = require('ioredis') as typeof import('ioredis');
  return new RedisClient(url, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    lazyConnect: false,
    ...extra,
  });
}

/** Waits until an ioredis connection is ready (commands fail at once before: no offline queue). */
export function redisReady(redis: Redis, timeoutMs: number, what: string): Promise<void> {
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
      () => done(new Error(`Redis (${what}) not reachable within ${timeoutMs} ms${lastErr ? `: ${String((lastErr as Error).message ?? lastErr)}` : ''}`)),
      timeoutMs,
    );
    redis.on('ready', onReady);
    redis.on('error', onErr);
  });
}
