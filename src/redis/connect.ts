// One way to open Redis connections, so that every part fails the same way when Redis is lost:
// commands fail at once (no offline queue: callers answer 503) and the client keeps reconnecting.
import { Redis, type RedisOptions } from 'ioredis';

export function connectRedis(url: string, name: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    lazyConnect: false,
    ...extra,
  });
}
