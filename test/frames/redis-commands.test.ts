// Redis work must not grow with the number of listeners (DESIGN.md §3). INFO commandstats is
// server-wide, so this test runs its own redis-server on a spare port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { StoredFrame } from '../../src/frames/frame.js';
import { streamKey } from '../../src/frames/keys.js';
import { imageSeq, image, memoryLog, sleep, startPrivateRedis, type PrivateRedis, openRedisStore } from '../helpers/redis-server.js';

let server: PrivateRedis;
let plain: Redis;

beforeAll(async () => {
  server = await startPrivateRedis();
  plain = new Redis(server.url);
});

afterAll(async () => {
  plain?.disconnect();
  await server?.stop();
});

/** Calls per command since the server started (INFO commandstats), e.g. { xread: 120, scan: 3 }. */
async function commandCalls(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await plain.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Calls the store made in a window: everything but this test's own XADD and INFO. */
function storeCalls(before: Record<string, number>, after: Record<string, number>): { total: number; by: Record<string, number> } {
  const by: Record<string, number> = {};
  let total = 0;
  for (const [cmd, n] of Object.entries(after)) {
    if (cmd === 'xadd' || cmd === 'info') continue;
    const d = n - (before[cmd] ?? 0);
    if (d > 0) {
      by[cmd] = d;
      total += d;
    }
  }
  return { total, by };
}

describe('RedisFrameStore: Redis commands', () => {
  it('costs the same with 50 listeners of a label as with 1', async () => {
    const label = 'site-cmdcount';
    const cams = ['cam0', 'cam1', 'cam2'];
    let seq = 0;
    const write = () => {
      seq++;
      for (const [i, cam] of cams.entries()) {
        void plain.xadd(streamKey(label, cam), 'MAXLEN', '~', 10, '*', 'frame', image(i, seq), 'warnings', '{}',
          'cone_polygons', '[]', 'pole_polygons', '[]', 'detection_items', '[]', 'width', '0', 'height', '0');
      }
    };
    write();
    const store = await openRedisStore({
      url: server.url, maxLen: 10, scanIntervalMs: 1000, idleMs: 3600_000, log: memoryLog(), blockMs: 2000,
    });
    const producer = setInterval(write, 50); // 3 cameras at 20 frames/s, written by another writer
    try {
      const listeners: { got: StoredFrame[] }[] = [];
      const add = async () => {
        const l = { got: [] as StoredFrame[] };
        listeners.push(l);
        await store.subscribe(label, (f) => void l.got.push(f));
      };
      const measure = async () => {
        await sleep(500); // settle
        const before = await commandCalls();
        const seqBefore = seq;
        await sleep(3000);
        const after = await commandCalls();
        return { ...storeCalls(before, after), frames: (seq - seqBefore) * cams.length };
      };

      await add();
      const one = await measure();
      for (let i = 1; i < 50; i++) await add();
      const fifty = await measure();
      console.log('Redis commands in 3 s, 1 listener:', one, '50 listeners:', fifty);

      expect(one.total).toBeGreaterThan(10); // the reader really worked
      expect(Math.abs(fifty.total - one.total)).toBeLessThanOrEqual(0.1 * one.total + 8);
      for (const cmd of ['xread', 'xrevrange', 'scan']) {
        expect(Math.abs((fifty.by[cmd] ?? 0) - (one.by[cmd] ?? 0))).toBeLessThanOrEqual(0.1 * (one.by[cmd] ?? 0) + 3);
      }

      // And every listener got every frame once, in order.
      clearInterval(producer);
      await sleep(500);
      const [[lastId]] = await plain.xrevrange(streamKey(label, 'cam0'), '+', '-', 'COUNT', 1);
      for (const l of listeners.slice(1)) {
        const seqs = l.got.filter((f) => f.key === 'cam0').map((f) => imageSeq(f.frame).seq);
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, j) => seqs[0]! + j));
        expect(l.got.filter((f) => f.key === 'cam0').at(-1)!.id).toBe(lastId);
      }
    } finally {
      clearInterval(producer);
      await store.close();
    }
  });
});
