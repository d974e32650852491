// Redis killed while producers upload and viewers watch, then back empty (no persistence, as a
// Redis used as a cache is run): the service stays up and answers 503 JSON at once (never a hang),
// is alive but not ready, keeps its viewers; when Redis is back, the same tokens upload again
// within 2 s, open viewers get the new frames (none twice), nobody has to log in again.
// A redis-server of the test's own on a spare port.
import { afterAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';
import { POSTGRES, SQLITE, startService, type TestService, type Backend } from '../helpers/service.js';
import { call } from '../helpers/http.js';
import { connect, defaultMeta, jpeg, postFrame, sleep, uniqueLabel, type Client } from '../helpers/frames.js';
import { eagerPuller, httpProducer, inOrderOnce, percentile, probe, report, seqsByCamera, socketProducer, type Attempt } from '../helpers/traffic.js';

const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s().catch(() => {});
});

const firstAfter = (attempts: Attempt[], t: number, ok: (a: Attempt) => boolean) => attempts.find((a) => a.start >= t && ok(a));

describe.each([SQLITE, POSTGRES] as Backend[])('Redis lost and back empty, accounts in $name', (backend) => {
  it('costs the frames Redis held and nothing else', async () => {
    let redis: PrivateRedis = await startPrivateRedis();
    stops.push(() => redis.stop());
    const svc: TestService = await startService({ backend, env: { REDIS_URL: redis.url } });
    stops.push(() => svc.stop());
    const label = uniqueLabel();
    const cam = await svc.token(`cam-${backend.name}`, 'model_manager', [label]);
    const login = await call(svc.url, 'POST', '/login', { body: { username: `cam-${backend.name}`, password: `pw-cam-${backend.name}-12345678` } });
    expect(login.status).toBe(200);
    const watcher = await svc.token(`watcher-${backend.name}`, 'user', [label]);
    // A label with a camera that nobody watches on this instance.
    const admin = await svc.token(`admin-${backend.name}`, 'admin');
    const otherLabel = uniqueLabel();
    expect((await postFrame(svc.url, admin, { label: otherLabel, key: 'cam', ...defaultMeta }, jpeg(1))).status).toBe(200);

    const socket = await socketProducer(svc.url, cam, label, 'cam-ws', 2);
    // Index = camera number in the frames' bytes.
    const producers = [
      httpProducer(svc.url, cam, label, 'cam-http', 0),
      httpProducer(svc.url, login.body.access_token, label, 'cam-http2', 1),
      socket,
    ];
    await sleep(500);
    const viewers: Client[] = [
      await connect(svc.url, `/ws/labels/${label}`, watcher),
      await connect(svc.url, `/ws/labels/${label}`, cam, 'header'),
      await eagerPuller(svc.url, watcher, label, 'cam-http'),
    ];
    await sleep(1500);
    const health = probe(svc.url, '/healthz', 100);
    const ready = probe(svc.url, '/readyz', 100);

    // --- Redis dies (SIGKILL) with everything it held.
    const tKill = performance.now();
    await redis.stop();
    await sleep(4000);
    const framesAtOutageEnd = viewers.map((v) => v.frames.length);
    for (const v of viewers) expect(v.closed).toBeNull();
    // A new viewer of a label this instance already watches is served what it holds; one of a
    // label it does not watch yet is told to try again.
    const joining = await connect(svc.url, `/ws/labels/${label}`, watcher);
    await joining.until(() => joining.frames.length === 3, 3000, 'the frames held in memory');
    joining.close();
    const elsewhere = await connect(svc.url, `/ws/labels/${otherLabel}`, admin);
    expect(await elsewhere.waitClose()).toEqual({ code: 1013, reason: 'Frame store unavailable' });

    // --- An empty Redis on the same address.
    const tBack = performance.now();
    redis = await startPrivateRedis(redis.port);
    await sleep(3000);
    await Promise.all(producers.map((p) => p.stop()));
    await sleep(500);
    await health.stop();
    await ready.stop();

    // Uploads during the outage: 503 JSON (STORE_UNAVAILABLE), each answered at once.
    const during = producers.flatMap((p) => p.attempts.filter((a) => a.start > tKill + 50 && a.end < tBack));
    expect(during.length).toBeGreaterThan(20);
    expect(during.every((a) => a.status === 503)).toBe(true);
    const httpDuring = producers.slice(0, 2).flatMap((p) => p.attempts.filter((a) => a.start > tKill + 50 && a.end < tBack));
    expect(httpDuring.every((a) => a.code === 'STORE_UNAVAILABLE')).toBe(true);
    const slowest = Math.max(...producers.flatMap((p) => p.attempts.filter((a) => a.end > tKill && a.start < tBack)).map((a) => a.end - a.start));
    expect(slowest).toBeLessThan(2000);
    const first503 = Math.min(...producers.map((p) => firstAfter(p.attempts, tKill, (a) => a.status === 503)!.end - tKill));

    // Alive but not ready while Redis is away; ready again after.
    expect(health.seen.every((s) => s.status === 200)).toBe(true);
    const readyDown = ready.seen.filter((s) => s.t > tKill + 300 && s.t < tBack);
    expect(readyDown.length).toBeGreaterThan(10);
    expect(readyDown.every((s) => s.status === 503)).toBe(true);
    const readyAgain = ready.seen.find((s) => s.t > tBack && s.status === 200);
    expect(readyAgain).toBeDefined();

    // Back: every producer uploads again with the token it had, within 2 s.
    const recovered = producers.map((p) => firstAfter(p.attempts, tBack, (a) => a.status === 200));
    for (const r of recovered) expect(r, 'an upload succeeded after Redis came back').toBeDefined();
    const recovery = Math.max(...recovered.map((r) => r!.end - tBack));
    expect(recovery).toBeLessThan(2000);
    const lastOk = producers.map((p) => p.attempts.filter((a) => a.status === 200).at(-1)!);

    // Open viewers stayed open and got the new frames, in order, none twice: the newest upload of
    // every camera reached the push viewers, and the puller got frames after the outage.
    for (const v of viewers) {
      expect(v.closed).toBeNull();
      expect(inOrderOnce(v)).toBe(true);
    }
    for (const v of viewers.slice(0, 2)) {
      await v.until(() => lastOk.every((a, cam) => seqsByCamera(v).get(cam)?.includes(a.seq)), 3000, 'the newest frame of every camera');
    }
    expect(viewers[2]!.frames.length).toBeGreaterThan(framesAtOutageEnd[2]!);

    // Nobody logged out: refresh, /me and a new viewer with the old tokens.
    expect((await call(svc.url, 'POST', '/refresh', { body: { refresh_token: login.body.refresh_token } })).status).toBe(200);
    expect((await call(svc.url, 'GET', '/me', { token: watcher })).status).toBe(200);
    const late = await connect(svc.url, `/ws/labels/${label}`, watcher);
    await late.until(() => late.frames.length === 3, 3000, 'the newest frame of each camera');
    late.close();
    for (const v of viewers) v.close();
    socket.client.close();

    const acked = producers.map((p) => p.attempts.filter((a) => a.status === 200 && a.start > tBack).length);
    // Frames each push viewer got from the first upload after the restart on.
    const delivered = viewers.slice(0, 2).map((v) =>
      [...seqsByCamera(v).entries()].reduce((n, [c, seqs]) => n + seqs.filter((q) => q >= recovered[c]!.seq).length, 0));
    report(`Redis outage (accounts ${backend.name})`, {
      first_503_ms: first503,
      slowest_upload_during_outage_ms: slowest,
      refused_upload_p50_ms: percentile(during.map((a) => a.end - a.start), 50),
      ready_again_after_restart_ms: readyAgain!.t - tBack,
      first_upload_ok_after_restart_ms: recovery,
      uploads_refused_during_outage: during.length,
      uploads_ok_after_restart: acked.reduce((a, b) => a + b, 0),
      delivered_after_restart_per_push_viewer: delivered.join('/'),
      viewers_closed: 0,
    });
  });
});
