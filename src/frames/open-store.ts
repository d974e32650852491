// Chooses the frame store from configuration: Redis Streams with REDIS_URL, else in memory.
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import type { FrameStore } from './store.js';
import { MemoryFrameStore } from './memory-store.js';

export async function openFrameStore(config: Config, log: FastifyBaseLogger): Promise<FrameStore> {
  if (!config.redisUrl) return new MemoryFrameStore({ maxStreams: config.maxStreams, maxBytes: config.memoryStoreMaxBytes, idleMs: config.streamIdleMs });
  // Imported only when configured: the embedded setup does not load ioredis at all.
  const { RedisFrameStore } = await import('./redis-store.js');
  return RedisFrameStore.open({
    url: config.redisUrl,
    maxLen: config.streamMaxLen,
    scanIntervalMs: config.scanIntervalMs,
    idleMs: config.streamIdleMs,
    log,
  });
}
