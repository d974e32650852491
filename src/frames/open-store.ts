// Chooses the frame store from configuration: Redis Streams with REDIS_URL, else in memory.
import type { Config } from '../config.js';
import type { Connections } from '../connections.js';
import type { Logger } from '../lib/log.js';
import type { FrameStore } from './store.js';
import { MemoryFrameStore } from './memory-store.js';

export async function openFrameStore(config: Config, conns: Connections, log: Logger): Promise<FrameStore> {
  if (!conns.redis) return new MemoryFrameStore({ maxStreams: config.maxStreams, maxBytes: config.memoryStoreMaxBytes, idleMs: config.streamIdleMs });
  // Imported only when configured: the embedded setup does not load the Redis store at all.
  const { RedisFrameStore } = await import('./redis-store.js');
  return RedisFrameStore.open({
    redis: conns.redis,
    maxLen: config.streamMaxLen,
    scanIntervalMs: config.scanIntervalMs,
    idleMs: config.streamIdleMs,
    prefix: config.redisPrefix,
    log,
  });
}
