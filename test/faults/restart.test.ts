// Restart and graceful shutdown of the real process (node dist/src/main.js, as npm start runs it):
// SIGTERM stops accepting, finishes the upload under way, closes every socket with 1001 (a client
// that does not read is cut off, it does not hold the shutdown) and exits 0 within
// SHUTDOWN_GRACE_MS; an upload that never finishes cannot hold it longer. With Redis, the restarted
// instance serves the newest frames at once and every session survives, on SQLite and PostgreSQL.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/postgres-server.js';
import { Sandbox } from '../helpers/service.js';
import { built, startProcess, type ServiceProcess } from '../helpers/process.js';
import { call, eventually, rawConnection } from '../helpers/http.js';
import { connect, defaultMeta, jpeg, multipartBody, postFrame, seqOf, sleep, uniqueLabel } from '../helpers/frames.js';
import { report } from '../helpers/traffic.js';

let redis: PrivateRedis;
let pg: PrivatePostgres;
const sandboxes: Sandbox[] = [];
const procs: ServiceProcess[] = [];
beforeAll(async () => {
  [redis, pg] = await Promise.all([startPrivateRedis(), startPrivatePostgres()]);
});
afterAll(async () => {
  for (const p of procs) await p.stop(3000);
  for (const s of sandboxes) await s.cleanup();
  await redis?.stop();
  await pg?.destroy();
});

const ADMIN_PASSWORD = 'pw-admin-12345678';
const GRACE_MS = 5000;

function envFor(database: 'sqlite' | 'postgres', extra: Record<string, string> = {}): Record<string, string> {
  const sandbox = new Sandbox();
  sandboxes.push(sandbox);
  return sandbox.env({
    REDIS_URL: redis.url,
    ADMIN_PASSWORD,
    SHUTDOWN_GRACE_MS: String(GRACE_MS),
    ...(database === 'postgres' ? { DATABASE_URL: pg.url } : {}),
    ...extra,
  });
}

async function start(env: Record<string, string>): Promise<ServiceProcess> {
  const p = await startProcess(env);
  procs.push(p);
  return p;
}

/** Resolves with the ms until a new TCP connection to `port` is refused. */
async function untilRefused(port: number, t0: number): Promise<number> {
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(false); });
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    if (refused) return Date.now() - t0;
    if (Date.now() - t0 > 10_000) throw new Error('still accepting connections 10 s after SIGTERM');
    await sleep(20);
  }
}

describe.skipIf(!built())('restart', () => {
  it.each(['sqlite', 'postgres'] as const)('SIGTERM is graceful, and a restart keeps the newest frames and every session (%s)', async (database) => {
    const env = envFor(database);
    const first = await start(env);
    const url = first.url;
    const label = uniqueLabel();
    const admin = await first.login('admin', ADMIN_PASSWORD);
    for (const [username, role] of [['cam-restart', 'model_manager'], ['watcher-restart', 'user']] as const) {
      const r = await call(url, 'POST', '/users', { token: admin.access_token, body: { username, password: `pw-${username}-123`, role, sites: [label] } });
      expect(r.status).toBe(201);
    }
    const cam = await first.login('cam-restart', 'pw-cam-restart-123');
    const watcher = await first.login('watcher-restart', 'pw-watcher-restart-123');
    for (let seq = 1; seq <= 3; seq++) {
      for (const c of [0, 1]) expect((await postFrame(url, cam.access_token, { label, key: `cam-${c}`, ...defaultMeta }, jpeg(seq, 256, c))).status).toBe(200);
    }

    const push = await connect(url, `/ws/labels/${label}`, watcher.access_token);
    const pull = await connect(url, `/ws/stream/${label}/cam-0`, watcher.access_token);
    const producer = await connect(url, '/ws/frames', cam.access_token, 'header');
    const deaf = await connect(url, `/ws/labels/${label}`, admin.access_token);
    await push.until(() => push.frames.length === 2);
    await deaf.until(() => deaf.frames.length === 2);
    deaf.ws.pause(); // reads nothing from now on, not even the close frame
    pull.send('{"action":"ping"}');
    await pull.until(() => pull.texts.length === 1);

    // An upload under way: headers and half of the body sent.
    const { body, contentType } = multipartBody({ label, key: 'cam-0', ...defaultMeta }, jpeg(10, 4096, 0));
    const upload = await rawConnection(url);
    await upload.connected;
    upload.socket.write(`POST /frames HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${cam.access_token}\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`);
    upload.socket.write(body.subarray(0, body.length >> 1));
    await sleep(300);

    const tTerm = Date.now();
    first.child.kill('SIGTERM');
    const refusedAfter = await untilRefused(first.port, tTerm);
    upload.socket.write(body.subarray(body.length >> 1));
    await eventually(() => upload.isClosed() || /\r\n\r\n\{.*\}/.test(upload.received()), 5000, 'the upload answered');
    expect(upload.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(upload.received()).toContain('Frame stored successfully.');

    const closes = await Promise.all([push, pull, producer].map((c) => c.waitClose(GRACE_MS)));
    for (const c of closes) expect(c).toEqual({ code: 1001, reason: 'Server shutting down' });
    const exit = await first.exited;
    const exitMs = exit.at - tTerm;
    expect(exit.code, first.output().slice(-3000)).toBe(0);
    expect(exitMs).toBeLessThan(GRACE_MS);
    deaf.ws.resume();
    await deaf.waitClose(); // cut off (1006): it never answered the close frame

    // --- The same deployment starts again, on the same address.
    const tStart = Date.now();
    const second = await start({ ...env, PORT: String(first.port) });
    const startMs = Date.now() - tStart;
    expect(second.output()).not.toMatch(/password:/); // the admin exists: no new one

    // The newest frame of each camera at once, the one that was under way included.
    const tView = Date.now();
    const again = await connect(second.url, `/ws/labels/${label}`, watcher.access_token);
    await again.until(() => again.frames.length === 2, 3000, 'the newest frames');
    const firstFramesMs = Date.now() - tView;
    expect(again.frames.map((f) => seqOf(f.image)).sort((a, b) => a.cam - b.cam)).toEqual([{ cam: 0, seq: 10 }, { cam: 1, seq: 3 }]);

    // Every session survived: each access token still works, each refresh token too.
    for (const t of [admin, cam, watcher]) {
      expect((await call(second.url, 'GET', '/me', { token: t.access_token })).status).toBe(200);
      expect((await call(second.url, 'POST', '/refresh', { body: { refresh_token: t.refresh_token } })).status).toBe(200);
    }
    expect((await postFrame(second.url, cam.access_token, { label, key: 'cam-1', ...defaultMeta }, jpeg(4, 256, 1))).status).toBe(200);
    await again.until(() => again.frames.some((f) => seqOf(f.image).cam === 1 && seqOf(f.image).seq === 4));
    again.close();
    expect((await second.stop()).code).toBe(0);

    report(`restart (${database} + Redis)`, {
      refusing_connections_after_sigterm_ms: refusedAfter,
      exit_after_sigterm_ms: exitMs,
      grace_ms: GRACE_MS,
      restart_to_listening_ms: startMs,
      newest_frames_after_connect_ms: firstFramesMs,
    });
  });

  it('exits by SHUTDOWN_GRACE_MS when an upload never finishes', async () => {
    const grace = 1500;
    const proc = await start(envFor('sqlite', { SHUTDOWN_GRACE_MS: String(grace) }));
    const { access_token } = await proc.login('admin', ADMIN_PASSWORD);
    const stuck = await rawConnection(proc.url);
    await stuck.connected;
    stuck.socket.write(`POST /frames HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${access_token}\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000\r\n\r\n--x`);
    await sleep(300);
    const tTerm = Date.now();
    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    const ms = exit.at - tTerm;
    expect(exit.code).toBe(1); // closed by the deadline, not cleanly
    expect(ms).toBeGreaterThanOrEqual(grace - 100);
    expect(ms).toBeLessThan(grace + 1500);
    expect(proc.output()).toMatch(/killed by timeout/);
    stuck.socket.destroy();
    report('shutdown with a stuck upload', { grace_ms: grace, exit_after_sigterm_ms: ms });
  });
});
