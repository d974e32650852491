// A lost Redis: uploads and label lists answer 503 at once, viewers stay open, the process does not
// fall over, and everything works again when Redis comes back (a redis-server of its own to stop).
import { afterAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';
import { startService, type TestService } from '../helpers/service.js';
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
    svc = await startService({ env: { REDIS_URL: redis.url } });
    const token = await svc.token('admin');
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

    // Restarted empty (no persistence): the frames it held are gone, nothing else. Sessions live in
    // the accounts database, so the same token uploads again and the open viewer gets the new
    // frames, once each.
    redis = await startPrivateRedis(port);
    const deadline = Date.now() + 8000;
    while (Date.now() < deadline && (await fetch(`${svc.url}/readyz`)).status !== 200) await sleep(200);
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);
    expect((await post(3)).status).toBe(200);
    expect((await post(4)).status).toBe(200);
    await viewer.until(() => viewer.frames.some((f) => seqOf(f.image).seq === 4), 3000, 'frames after the outage');
    expect(viewer.frames.map((f) => seqOf(f.image).seq)).toEqual([1, 3, 4]);
    expect(viewer.closed).toBeNull();
    const again = await connect(svc.url, `/ws/labels/${label}`, token);
    await again.until(() => again.frames.length === 1);
    expect(seqOf(again.frames[0]!.image).seq).toBe(4);
    again.close();
    viewer.close();
  });
});
