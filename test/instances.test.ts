// Two instances of one deployment (one Redis, one PostgreSQL) behind a load balancer agree at once:
// a camera that starts on A is listed and watchable on B, A's frames reach B's viewers exactly
// once, sessions ended on A close B's sockets, limits are shared, each answers /readyz for itself.
// The background SCAN is made slow here (60 s), so that what B learns, it learns from A. On one
// Redis and on a Redis Cluster.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainRedis, Sandbox, POSTGRES_REDIS, startService, type TestService } from './helpers/service.js';
import { call, eventually } from './helpers/http.js';
import { connect, defaultMeta, jpeg, postFrame, seqOf, sleep, uniqueLabel } from './helpers/frames.js';
import { b64, streamKey } from '../src/frames/keys.js';

const env = { SCAN_INTERVAL_MS: '60000', LOGIN_MAX_FAILURES: '3', LABELS_RATE_MAX: '30' };

describe.each(['redis', 'cluster'] as const)('two instances sharing PostgreSQL and %s', (store) => {
  const sandbox = new Sandbox(POSTGRES_REDIS, 'instances');
  let a: TestService;
  let b: TestService;
  let admin: string;
  const post = (svc: TestService, label: string, key: string, seq: number, cam = 0) =>
    postFrame(svc.url, admin, { label, key, ...defaultMeta }, jpeg(seq, 128, cam));
  const labelsOf = async (svc: TestService): Promise<string[]> =>
    (await call(svc.url, 'GET', '/labels', { token: admin })).body.labels;

  beforeAll(async () => {
    a = await startService({ sandbox, store, env });
    b = await startService({ sandbox, store, env });
    admin = await a.token('admin');
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await sandbox.cleanup();
  });

  it('lists a camera that starts on A on B at once, and B serves its viewers', async () => {
    const label = uniqueLabel();
    expect(await labelsOf(b)).not.toContain(label);
    expect((await post(a, label, 'cam', 1)).status).toBe(200);
    // Right after the upload was answered: a viewer on B finds the camera (never "No keys found").
    const v = await connect(b.url, `/ws/labels/${encodeURIComponent(label)}`, admin);
    await v.until(() => v.frames.length === 1 || v.closed !== null, 3000, 'the first frame');
    expect(v.texts).toEqual([]);
    expect(seqOf(v.frames[0]!.image).seq).toBe(1);
    const ms = await eventually(async () => (await labelsOf(b)).includes(label), 1000, 'B to list the label');
    console.log(`a camera started on A was listed by B ${ms} ms after its upload was answered`);
    v.close();
  });

  it('delivers frames posted to A to push viewers on B exactly once, in order, a late camera too', async () => {
    const label = uniqueLabel();
    await post(a, label, 'cam-a', 0, 0);
    const onB = await connect(b.url, `/ws/labels/${encodeURIComponent(label)}`, admin);
    const onA = await connect(a.url, `/ws/labels/${encodeURIComponent(label)}`, admin);
    await onB.until(() => onB.frames.length === 1);
    await onA.until(() => onA.frames.length === 1);
    for (let s = 1; s <= 40; s++) {
      await post(a, label, 'cam-a', s, 0);
      // A camera that starts after B's viewer is watching: B hears of it from A, not from a scan.
      if (s >= 20) await post(a, label, 'cam-late', s, 1);
    }
    for (const v of [onA, onB]) {
      await v.until(() => v.frames.length >= 62, 5000, 'every frame');
      await sleep(200);
      const seqs = (cam: string) => v.frames.filter((f) => f.header.key === cam).map((f) => seqOf(f.image).seq);
      expect(seqs('cam-a')).toEqual(Array.from({ length: 41 }, (_, i) => i));
      expect(seqs('cam-late')).toEqual(Array.from({ length: 21 }, (_, i) => i + 20));
      v.close();
    }
  });

  it('gives a pull viewer on B the frames posted to A', async () => {
    const label = uniqueLabel();
    const c = await connect(b.url, `/ws/stream/${encodeURIComponent(label)}/cam`, admin);
    c.send('{"action":"pull"}');
    await sleep(100);
    await post(a, label, 'cam', 5);
    await c.until(() => c.frames.length === 1, 3000, 'a pulled frame');
    await post(a, label, 'cam', 6);
    c.send('{"action":"pull"}');
    await c.until(() => c.frames.length === 2, 3000, 'the next pulled frame');
    expect(c.frames.map((f) => seqOf(f.image).seq)).toEqual([5, 6]);
    c.close();
  });

  it('finds, on a viewer\'s request, a stream another instance recorded but whose announcement it missed', async () => {
    const label = uniqueLabel();
    const redis = plainRedis(store);
    const key = streamKey(label, 'cam');
    try {
      // As an instance does, but without the message: the stream and the label's set only.
      await redis.xadd(key, '*', 'frame', jpeg(9), 'warnings', '', 'cone_polygons', '', 'pole_polygons', '',
        'detection_items', '', 'width', '0', 'height', '0');
      await redis.sadd(`${sandbox.redisPrefix}label-streams:${b64(label)}`, key);
      expect(await labelsOf(b)).not.toContain(label);
      const v = await connect(b.url, `/ws/labels/${encodeURIComponent(label)}`, admin);
      await v.until(() => v.frames.length === 1 || v.closed !== null, 3000, 'the frame');
      expect(seqOf(v.frames[0]!.image).seq).toBe(9);
      expect(await labelsOf(b)).toContain(label);
      v.close();
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });

  it('closes B\'s sockets within a second of a logout on A', async () => {
    const token = await a.token('roaming-viewer', 'user', ['north']);
    const v = await connect(b.url, '/ws/stream/north/cam', token);
    const t = Date.now();
    expect((await call(a.url, 'POST', '/logout', { token })).status).toBe(200);
    expect(await v.waitClose(3000)).toEqual({ code: 1008, reason: 'Token not active' });
    expect(Date.now() - t).toBeLessThan(1000);
  });

  it('shares the failed-login count', async () => {
    await a.token('limited-user', 'user');
    const login = (svc: TestService) => call(svc.url, 'POST', '/login', { body: { username: 'limited-user', password: 'wrong-password' } });
    expect((await login(a)).status).toBe(401);
    expect((await login(b)).status).toBe(401);
    expect((await login(a)).status).toBe(401);
    expect((await login(b)).status).toBe(429);
  });

  it('shares the GET /labels count', async () => {
    const token = await a.token('counted-user', 'user');
    for (let i = 0; i < 15; i++) {
      expect((await call(a.url, 'GET', '/labels', { token })).status).toBe(200);
      expect((await call(b.url, 'GET', '/labels', { token })).status).toBe(200);
    }
    expect((await call(a.url, 'GET', '/labels', { token })).status).toBe(429);
  });

  it('answers /readyz for itself', async () => {
    for (const svc of [a, b]) {
      const r = await call(svc.url, 'GET', '/readyz');
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ status: 'ok', store: 'ok', accounts: 'ok' });
    }
    // B stopping does not change A's answer.
    const c = await startService({ sandbox, store, env });
    await c.app.close();
    expect((await call(a.url, 'GET', '/readyz')).status).toBe(200);
    await expect(fetch(`${c.url}/readyz`)).rejects.toThrow();
  });
});
