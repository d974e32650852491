// Redis work does not grow with viewers (DESIGN.md §3): the service's Redis commands over a fixed
// window are about the same with 1 and with 50 viewer sockets watching the same cameras. INFO
// commandstats is server-wide, so this test runs its own redis-server on a spare port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';
import { startService, type TestService } from '../helpers/service.js';
import { connect, defaultMeta, jpeg, sleep, uniqueLabel, type Client } from '../helpers/frames.js';
import { streamKey } from '../../src/frames/keys.js';

let redisServer: PrivateRedis;
let plain: Redis;
let svc: TestService;

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  plain = new Redis(redisServer.url);
  svc = await startService({ env: { REDIS_URL: redisServer.url } });
});
afterAll(async () => {
  await svc?.stop();
  plain?.disconnect();
  await redisServer?.stop();
});

async function calls(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of (await plain.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** Commands the service sent in a 3 s window, less the producer's XADDs and this test's INFO. */
async function serviceCommands(): Promise<number> {
  const before = await calls();
  await sleep(3000);
  const after = await calls();
  let n = 0;
  for (const [cmd, c] of after) if (cmd !== 'xadd' && cmd !== 'info') n += c - (before.get(cmd) ?? 0);
  return n;
}

describe('Redis commands with many viewers', () => {
  it('are about the same for 50 viewers as for 1', async () => {
    const label = uniqueLabel();
    const token = await svc.token('admin');
    let seq = 0;
    // Another writer (as the old backend or a second instance) adds 2 cameras at 20 frames/s.
    const write = () => {
      seq++;
      for (const cam of ['a', 'b']) {
        void plain.xadd(streamKey(label, cam), 'MAXLEN', '~', 10, '*', 'frame', jpeg(seq), 'warnings', defaultMeta.warnings_json,
          'cone_polygons', '[]', 'pole_polygons', '[]', 'detection_items', '[]', 'width', '0', 'height', '0');
      }
    };
    write();
    await sleep(2500); // found by the background scan
    const producer = setInterval(write, 50);
    const viewers: Client[] = [];
    try {
      viewers.push(await connect(svc.url, `/ws/labels/${label}`, token));
      await sleep(500);
      const one = await serviceCommands();
      for (let i = 0; i < 49; i++) viewers.push(await connect(svc.url, `/ws/labels/${label}`, token));
      await sleep(500);
      const fifty = await serviceCommands();
      console.log(`service Redis commands in 3 s: 1 viewer ${one}, 50 viewers ${fifty}`);
      expect(one).toBeGreaterThan(0);
      expect(fifty).toBeLessThanOrEqual(one * 1.1 + 5);
      // And the viewers got the frames.
      for (const v of viewers) expect(v.frames.length).toBeGreaterThan(10);
    } finally {
      clearInterval(producer);
      viewers.forEach((v) => v.close());
    }
  });

  it('answers GET /labels from memory, without a SCAN per request', async () => {
    const token = await svc.token('admin');
    const before = await calls();
    for (let i = 0; i < 50; i++) {
      const r = await fetch(`${svc.url}/labels`, { headers: { authorization: `Bearer ${token}` } });
      expect(r.status).toBe(200);
    }
    const after = await calls();
    const scans = (after.get('scan') ?? 0) - (before.get('scan') ?? 0);
    // Only the background sweep (every 2 s) scans; 50 requests add none. KEYS is never used.
    expect(scans).toBeLessThanOrEqual(2);
    expect(after.get('keys') ?? 0).toBe(0);
  });

  it('checks an unknown label with one SMEMBERS of its announced streams, never a SCAN', async () => {
    const token = await svc.token('admin');
    const before = await calls();
    for (let i = 0; i < 20; i++) {
      const c = await connect(svc.url, `/ws/labels/${uniqueLabel('nowhere')}`, token);
      await c.waitClose();
      expect(c.texts[0].error).toMatch(/^No keys found/);
    }
    const after = await calls();
    const delta = (cmd: string) => (after.get(cmd) ?? 0) - (before.get(cmd) ?? 0);
    expect(delta('smembers')).toBe(20);
    expect(delta('scan')).toBeLessThanOrEqual(2); // the background sweep's, every 2 s
  });
});
