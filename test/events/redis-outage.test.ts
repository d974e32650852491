// The live event feed without its Redis: each instance keeps serving its own streams (reviews
// still push), nothing falls over, and when Redis is back every instance catches up from the
// database on what it missed meanwhile (a redis-server of its own to stop).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';
import { POSTGRES, Sandbox, startService, type TestService } from '../helpers/service.js';
import { call } from '../helpers/http.js';
import { defaultMeta, jpeg, postFrame, sleep, uniqueLabel } from '../helpers/frames.js';
import { SseClient } from '../helpers/sse.js';

let redis: PrivateRedis | undefined;
let a: TestService | undefined;
let b: TestService | undefined;
let sandbox: Sandbox;

beforeAll(async () => {
  redis = await startPrivateRedis();
  sandbox = new Sandbox(POSTGRES, 'events_outage');
  const env = { REDIS_URL: redis.url, EVENT_FLUSH_MS: '20' };
  a = await startService({ sandbox, env });
  b = await startService({ sandbox, env });
});
afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()]);
  await redis?.stop();
  await sandbox?.cleanup();
});

describe('live events while Redis is down', () => {
  it('keep flowing on each instance, and the others catch up once Redis is back', async () => {
    const site = uniqueLabel();
    const ta = await a!.token('admin');
    const tb = await b!.token('admin');
    const onA = await SseClient.open(a!.url, '/events/stream', { token: ta });
    const onB = await SseClient.open(b!.url, '/events/stream', { token: tb });
    try {
      expect((await postFrame(a!.url, ta, { label: site, key: 'cam', ...defaultMeta }, jpeg(1))).status).toBe(200);
      await onB.until(() => onB.messages.length === 1, 5000, 'the event on B');
      const id = onB.messages[0]!.data.event.id;

      const port = redis!.port;
      await redis!.stop();
      await sleep(300);
      // The log is in the database: reading and reviewing work; A's own stream hears of the review.
      const r = await call(a!.url, 'PATCH', `/events/${id}`, { token: ta, body: { status: 'acknowledged' } });
      expect(r.status).toBe(200);
      await onA.until(() => onA.messages.length === 2, 5000, 'the review on A without Redis');
      expect((await call(b!.url, 'GET', `/events/${id}`, { token: tb })).body.status).toBe('acknowledged');
      expect(onA.ended || onB.ended).toBe(false);

      redis = await startPrivateRedis(port);
      // B's subscription comes back and B reads what it missed from the database.
      await onB.until(() => onB.messages.length === 2, 10_000, 'B to catch up after Redis returned');
      expect(onB.messages[1]!.data).toMatchObject({ type: 'update', event: { id, status: 'acknowledged' } });
      expect(Number(onB.messages[1]!.id)).toBe(Number(onA.messages[1]!.id));
    } finally {
      onA.close();
      onB.close();
    }
  });
});
