// PostgreSQL stopped (a crash: pg_ctl stop -m immediate) while producers upload and viewers watch,
// then started again: the accounts answer 503 DB_UNAVAILABLE at once while it is down, readiness
// says so, streaming goes on untouched (known sessions stay valid: nothing can end them without the
// database), and logins work again once it is back. A PostgreSQL of the test's own (never the
// shared one on 5432).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/postgres-server.js';
import { startService, type TestService } from '../helpers/service.js';
import { call } from '../helpers/http.js';
import { connect, sleep, uniqueLabel, type Client } from '../helpers/frames.js';
import { eagerPuller, httpProducer, inOrderOnce, percentile, probe, report, seqsByCamera, socketProducer } from '../helpers/traffic.js';

let pg: PrivatePostgres;
let svc: TestService;
beforeAll(async () => {
  pg = await startPrivatePostgres();
  svc = await startService({ backend: { name: 'private-pg', pg: true, redis: false, pgUrl: pg.url }, name: 'pg_outage' });
});
afterAll(async () => {
  await pg?.start().catch(() => {}); // the sandbox drops its schema there
  await svc?.stop();
  await pg?.destroy();
});

describe('PostgreSQL stopped and started', () => {
  it('makes the accounts answer 503 while it is down; streaming goes on; logins work again after', async () => {
    const label = uniqueLabel();
    const cam = await svc.token('cam-pg', 'model_manager', [label]);
    const watcher = await svc.token('watcher-pg', 'user', [label]);
    const admin = await svc.token('admin-pg', 'admin');
    const credentials = { username: 'watcher-pg', password: 'pw-watcher-pg-12345678' };
    expect((await call(svc.url, 'POST', '/login', { body: credentials })).status).toBe(200);

    const socket = await socketProducer(svc.url, cam, label, 'cam-ws', 1);
    const producers = [httpProducer(svc.url, cam, label, 'cam-http', 0), socket];
    await sleep(300);
    const viewers: Client[] = [
      await connect(svc.url, `/ws/labels/${label}`, watcher),
      await eagerPuller(svc.url, watcher, label, 'cam-http'),
    ];
    await sleep(1000);
    const ready = probe(svc.url, '/readyz', 100);
    const health = probe(svc.url, '/healthz', 100);

    // Logins, one at a time, through the outage.
    const logins: Array<{ start: number; end: number; status: number; code?: string }> = [];
    let loggingIn = true;
    const loginLoop = (async () => {
      while (loggingIn) {
        const start = performance.now();
        const r = await call(svc.url, 'POST', '/login', { body: credentials }).catch(() => ({ status: -1, body: null }));
        logins.push({ start, end: performance.now(), status: r.status, code: r.body?.code });
        await sleep(100);
      }
    })();
    await sleep(500);

    const tStop = performance.now();
    await pg.stop('immediate');
    const tStopped = performance.now(); // pg_ctl waits for the server to be gone
    await sleep(4000);
    // The management API is accounts too.
    const users = await call(svc.url, 'GET', '/users', { token: admin });
    expect(users.status).toBe(503);
    expect(users.body).toMatchObject({ code: 'DB_UNAVAILABLE' });
    for (const v of viewers) expect(v.closed).toBeNull();

    const tStart = performance.now();
    await pg.start();
    const tStarted = performance.now();
    await sleep(3000);
    loggingIn = false;
    await loginLoop;
    await Promise.all(producers.map((p) => p.stop()));
    await ready.stop();
    await health.stop();

    // Logins: 503 DB_UNAVAILABLE, answered at once, while it is down; 200 again after.
    const down = logins.filter((l) => l.start > tStopped && l.end < tStart);
    expect(down.length).toBeGreaterThan(10);
    expect(down.every((l) => l.status === 503 && l.code === 'DB_UNAVAILABLE')).toBe(true);
    const first503 = logins.find((l) => l.start >= tStop && l.status === 503)!;
    const loginBack = logins.find((l) => l.start >= tStarted && l.status === 200);
    expect(loginBack, 'a login after PostgreSQL came back').toBeDefined();
    const slowestLogin = Math.max(...logins.filter((l) => l.end > tStop && l.start < tStarted).map((l) => l.end - l.start));
    expect(slowestLogin).toBeLessThan(6000); // bounded by the pool's connect timeout, never a hang

    // Readiness: not ready while it is down, ready after; liveness all along.
    expect(health.seen.every((s) => s.status === 200)).toBe(true);
    const readyDown = ready.seen.filter((s) => s.t > tStopped + 300 && s.t < tStart);
    expect(readyDown.length).toBeGreaterThan(10);
    expect(readyDown.every((s) => s.status === 503)).toBe(true);
    const readyBack = ready.seen.find((s) => s.t > tStarted && s.status === 200);
    expect(readyBack).toBeDefined();

    // Streaming was not touched: every upload accepted, every one delivered to the push viewer,
    // in order and once; the puller kept getting frames.
    for (const p of producers) expect(p.attempts.every((a) => a.status === 200)).toBe(true);
    const uploadMs = producers.flatMap((p) => p.attempts.filter((a) => a.start > tStop && a.end < tStarted).map((a) => a.end - a.start));
    const push = viewers[0]!;
    // From the newest frame it was sent on connect on, every frame of every camera.
    const complete = () => producers.every((p, c) => {
      const seqs = seqsByCamera(push).get(c) ?? [];
      return seqs.at(-1) === p.attempts.at(-1)!.seq && seqs.length === seqs.at(-1)! - seqs[0]! + 1;
    });
    await push.until(complete, 3000, 'every frame');
    for (const v of viewers) {
      expect(v.closed).toBeNull();
      expect(inOrderOnce(v)).toBe(true);
    }
    const pulledDuring = viewers[1]!.frames.length;
    expect(pulledDuring).toBeGreaterThan(50);

    // Nobody logged out: the old tokens still work, and the accounts API is back.
    expect((await call(svc.url, 'GET', '/me', { token: watcher })).status).toBe(200);
    expect((await call(svc.url, 'GET', '/users', { token: admin })).status).toBe(200);
    for (const v of viewers) v.close();
    socket.client.close();

    report('PostgreSQL outage', {
      login_503_after_stop_ms: first503.end - tStop,
      slowest_login_while_down_ms: slowestLogin,
      ready_again_after_start_ms: readyBack!.t - tStarted,
      first_login_ok_after_start_ms: loginBack!.end - tStarted,
      uploads_during_outage: uploadMs.length,
      upload_p50_ms_during_outage: percentile(uploadMs, 50),
      upload_max_ms_during_outage: Math.max(...uploadMs),
      uploads_refused: 0,
      viewers_closed: 0,
    });
  });
});
