// A lost Redis: uploads and label lists answer 503 at once, viewers stay open, the process does not
// fall over, and everything works again when Redis comes back (a redis-server of its own to stop).
import { afterAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';
import { startService, type TestService } from '../helpers/server.js';
import { connect, defaultMeta, jpeg, postFrame, seqOf, sleep, uniqueLabel } from '../helpers/frames.js';

let redis: PrivateRedis | undefined;
let svc: TestService | undefined;
afterAll(async () => {
  await svc?.stop();
  await redis?.stop();
});

describe('service without its Redis', () => {
  it('answers 503 while Redis is down and recovers when it is back', async () => {
    redis = await startPrivateRedis();
    const port = redis.port;
    svc = await startService({ REDIS_URL: redis.url });
    let token = await svc.token('admin');
    const label = uniqueLabel();
    const post = (seq: number) => postFrame(svc!.url, token, { label, key: 'cam', ...defaultMeta }, jpeg(seq));
    expect((await post(1)).status).toBe(200);
    const viewer = await connect(svc.url, `/ws/labels/${label}`, token);
    await viewer.until(() => viewer.frames.length === 1);

    await redis.stop();
    await sleep(300);
    const t = Date.now();
    const down = await post(2);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    const labels = await fetch(`${svc.url}/labels`, { headers: { authorization: `Bearer ${token}` } });
    expect(labels.status).toBe(503);
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(503);
    expect(Date.now() - t).toBeLessThan(2000);
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200); // alive, just not ready
    expect(viewer.closed).toBeNull();

    // Restarted empty (no persistence): frames and sessions are gone, so the old session ends
    // (its socket closes 1008) and a new login works, with frames flowing again.
    redis = await startPrivateRedis(port);
    const deadline = Date.now() + 8000;
    while (Date.now() < deadline && (await fetch(`${svc.url}/readyz`)).status !== 200) await sleep(200);
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);
    expect((await post(3)).status).toBe(401);
    expect(await viewer.waitClose(6000)).toEqual({ code: 1008, reason: 'Token not active' });
    token = await svc.token('admin');
    expect((await post(4)).status).toBe(200);
    const again = await connect(svc.url, `/ws/labels/${label}`, token);
    await again.until(() => again.frames.length === 1);
    expect((await post(5)).status).toBe(200);
    await again.until(() => again.frames.some((f) => seqOf(f.image).seq === 5), 3000, 'a frame after the outage');
    again.close();
  });
});
