// Losing Redis: the store answers STORE_UNAVAILABLE at once (never hangs), logs the outage once,
// and carries on (reader included) when Redis is back. Uses a redis-server of its own to stop.
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { StoredFrame } from '../../src/frames/frame.js';
import { streamKey } from '../../src/frames/keys.js';
import { image, memoryLog, sleep, startPrivateRedis, waitFor, type PrivateRedis, openRedisStore } from '../helpers/redis-server.js';

let server: PrivateRedis | undefined;
afterAll(async () => {
  await server?.stop();
});

const fields = (seq: number) => ({
  frame: image(0, seq), warnings: '[]', conePolygons: '[]', polePolygons: '[]', detectionItems: '[]', width: '0', height: '0',
});

describe('RedisFrameStore: Redis outage', () => {
  it('fails fast while Redis is down and recovers by itself', async () => {
    server = await startPrivateRedis();
    const port = server.port;
    const log = memoryLog();
    const store = await openRedisStore({
      url: server.url, maxLen: 10, scanIntervalMs: 1000, idleMs: 3600_000, log, blockMs: 1000,
    });
    try {
      const got: StoredFrame[] = [];
      await store.subscribe('site-outage', (f) => void got.push(f));
      await store.append('site-outage', 'cam', fields(1));
      expect(got.length).toBe(1);

      await server.stop();
      await sleep(300);
      for (const attempt of [
        () => store.append('site-outage', 'cam', fields(2)),
        () => store.latest('site-outage', 'other'),
        () => store.labels(),
        () => store.keys('site-outage'),
        () => store.ping(),
      ]) {
        const t = Date.now();
        await expect(attempt()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', statusCode: 503 });
        expect(Date.now() - t).toBeLessThan(200);
      }
      await sleep(3000); // many reconnect attempts, reads and sweeps fail meanwhile
      const warnings = log.lines.filter((l) => l.level === 'warn');
      // One line per part (the command, reader and subscriber connections, the reader, the scan)
      // for the whole outage, not one per attempt.
      expect(new Set(warnings.map((w) => w.msg)).size).toBe(warnings.length);
      expect(warnings.length).toBeGreaterThan(0);
      expect(warnings.length).toBeLessThanOrEqual(5);

      server = await startPrivateRedis(port); // empty, like a restarted Redis without persistence
      await waitFor('the store to reconnect', () => store.ping().then(() => true, () => false), 5000);
      await store.append('site-outage', 'cam', fields(3));
      expect(got.map((f) => f.frame.readUInt32BE(6))).toEqual([1, 3]);

      // The reader is back too: another writer's new camera reaches the listener.
      const plain = new Redis(server.url);
      await plain.xadd(streamKey('site-outage', 'cam-b'), '*', 'frame', image(0, 4), 'warnings', '[]',
        'cone_polygons', '[]', 'pole_polygons', '[]', 'detection_items', '[]', 'width', '0', 'height', '0');
      plain.disconnect();
      await waitFor('a frame after the outage', () => got.some((f) => f.key === 'cam-b'), 3000);
      expect(log.lines.some((l) => l.level === 'info' && l.msg.includes('recovered'))).toBe(true);
      expect(await store.keys('site-outage')).toEqual(['cam', 'cam-b']);
    } finally {
      await store.close();
    }
  });
});
