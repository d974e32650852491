// What the service logs: no token ever (sockets may carry it as ?token=, DESIGN.md §2), nor
// passwords, the JWT secret or the database password, at any level; each rejected upload once, at
// warn, rate-limited per producer; not every /login and /me at the default level; each request's id
// (a proxy's X-Request-Id, else a new one); one line per socket open and close.
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, defaultMeta, frameMessage, jpeg, postFrame, sleep, uniqueLabel } from './helpers/frames.js';
import { call } from './helpers/http.js';
import { POSTGRES, SECRET, startService, type TestService } from './helpers/service.js';

describe('logs', () => {
  let svc: TestService;
  const lines: string[] = [];
  const entries = () => lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  beforeAll(async () => {
    const stream = new PassThrough();
    stream.on('data', (d) => lines.push(String(d)));
    svc = await startService({ env: { LOG_LEVEL: 'info', MAX_FRAME_BYTES: '1024' }, logStream: stream });
  });
  afterAll(async () => svc?.stop());
  const settle = () => new Promise((r) => setTimeout(r, 150));

  it('do not contain the token of a socket or a request', async () => {
    const url = svc.url;
    const access_token = await svc.token('watcher');
    const c = await connect(url, '/ws/labels/north', access_token);
    await c.waitClose();
    await fetch(`${url}/labels?token=${access_token}`, { headers: { authorization: `Bearer ${access_token}` } });
    await settle();
    const log = lines.join('');
    expect(log).toContain('/ws/labels/north?token=[redacted]');
    expect(log).not.toContain(access_token);
    expect(log).not.toContain(access_token.split('.')[2]);
  });

  it('log each rejected upload once at warn with user, label, key and code, at most 5 a minute per producer', async () => {
    const producer = await svc.token('cam-logged', 'model_manager', ['north']);
    const label = uniqueLabel('elsewhere');
    for (let i = 0; i < 8; i++) expect((await postFrame(svc.url, producer, { label, key: `k${i}`, ...defaultMeta }, jpeg(i))).status).toBe(403);
    expect((await postFrame(svc.url, producer, { label: 'north', key: 'good', ...defaultMeta }, jpeg(9))).status).toBe(200);
    await settle();
    const rejected = entries().filter((e) => e.msg === 'upload rejected' && e.user === 'cam-logged');
    expect(rejected).toHaveLength(5);
    expect(rejected[0]).toMatchObject({ level: 40, user: 'cam-logged', via: 'POST /frames', label, key: 'k0', code: 'SITE_FORBIDDEN', address: '127.0.0.1' });
  });

  it('log rejected socket uploads too, an oversized message included', async () => {
    const producer = await svc.token('ws-logged', 'model_manager', ['north']);
    const c = await connect(svc.url, '/ws/frames', producer, 'header');
    c.send(frameMessage({ label: 'north', key: 'cam', ...defaultMeta, width: 'wide' }, jpeg(1)));
    await c.until(() => c.texts.length === 1);
    c.send(Buffer.alloc(2 * 1024 * 1024));
    await c.waitClose();
    await settle();
    const rejected = entries().filter((e) => e.msg === 'upload rejected' && e.user === 'ws-logged');
    expect(rejected.map((e) => [e.via, e.code, e.label ?? null, e.key ?? null])).toEqual([
      ['WS /ws/frames', 'VALIDATION', 'north', 'cam'],
      ['WS /ws/frames', 'PAYLOAD_TOO_LARGE', null, null],
    ]);
  });

  it('do not log every upload, /login and /me at the default level', async () => {
    const before = lines.length;
    await svc.accounts.createUser({ username: 'quiet', password: 'password-123', role: 'user' });
    const login = await call(svc.url, 'POST', '/login', { body: { username: 'quiet', password: 'password-123' } });
    expect(login.status).toBe(200);
    expect((await call(svc.url, 'GET', '/me', { token: login.body.access_token })).status).toBe(200);
    expect((await call(svc.url, 'GET', '/labels', { token: login.body.access_token })).status).toBe(200);
    expect((await postFrame(svc.url, await svc.token('admin'), { label: 'north', key: 'quiet', ...defaultMeta }, jpeg(1))).status).toBe(200);
    await settle();
    const urls = lines.slice(before).join('').split('\n').filter(Boolean).map((l) => JSON.parse(l).req?.url).filter(Boolean);
    expect(urls).toContain('/labels');
    expect(urls).not.toContain('/login');
    expect(urls).not.toContain('/me');
    expect(urls).not.toContain('/frames');
  });
});

describe('log lines', () => {
  const lines: Record<string, any>[] = [];
  let svc: Awaited<ReturnType<typeof startService>>;
  beforeAll(async () => {
    const stream = new PassThrough();
    let buf = '';
    stream.on('data', (d) => {
      buf += String(d);
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
    });
    svc = await startService({ env: { LOG_LEVEL: 'info' }, logStream: stream });
  });
  afterAll(async () => svc?.stop());

  it('carry the request id a proxy sent, and give one to requests without (echoed as X-Request-Id)', async () => {
    const sent = await fetch(`${svc.url}/healthz?x`, { headers: { 'x-request-id': 'proxy-7f3a.42' } });
    expect(sent.headers.get('x-request-id')).toBe('proxy-7f3a.42');
    const none = await fetch(`${svc.url}/labels`);
    const made = none.headers.get('x-request-id')!;
    expect(made).toMatch(/^[0-9a-f-]{36}$/);
    // A header that is not an id (too long, odd characters) is replaced, not logged.
    const odd = await fetch(`${svc.url}/labels`, { headers: { 'x-request-id': 'x'.repeat(500) } });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await sleep(100);
    const of = (id: string) => lines.filter((l) => l.reqId === id);
    expect(of(made).map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
    expect(of(made)[1]).toMatchObject({ res: { statusCode: 401 } });
    expect(lines.some((l) => JSON.stringify(l).includes('x'.repeat(200)))).toBe(false);
  });

  it('have one line when a socket opens and one when it closes, with user, label and close code', async () => {
    const token = await svc.token('watcher-2', 'user', ['north']);
    const label = 'north';
    const v = await connect(svc.url, `/ws/labels/${label}`, token);
    await v.waitClose(); // no cameras: "No keys found", 1000
    const refused = await connect(svc.url, '/ws/labels/south', token);
    await refused.waitClose();
    const anonymous = await connect(svc.url, '/ws/labels/north', null);
    await anonymous.waitClose();
    await sleep(100);
    const opened = lines.filter((l) => l.msg === 'socket open' && l.user === 'watcher-2');
    const closed = lines.filter((l) => l.msg === 'socket closed' && l.user === 'watcher-2');
    expect(opened.map((l) => l.label)).toEqual(['north', 'south']);
    expect(closed.map((l) => [l.label, l.code])).toEqual([['north', 1000], ['south', 1008]]);
    expect(closed[1].reason).toBe('Not allowed to view this site');
    expect(opened[0].reqId).toBe(closed[0].reqId);
    expect(lines.find((l) => l.msg === 'socket refused')).toMatchObject({ label: 'north', code: 1008, reason: 'Missing authentication token' });
  });
});


describe('structured logs', () => {
  it('hold no password, token, JWT secret or database password, even at trace level', async () => {
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (d) => lines.push(String(d)));
    const dbPassword = 'db-pw-never-logged-7f3a';
    const svc = await startService({
      backend: POSTGRES,
      env: { LOG_LEVEL: 'trace', DATABASE_URL: `postgres://postgres:${dbPassword}@127.0.0.1:5432/test` },
      logStream: stream,
    });
    const secrets: string[] = [SECRET, dbPassword];
    try {
      const url = svc.url;
      const label = uniqueLabel();
      const admin = await svc.token('admin');
      const password = 'first-password-3b9d1c';
      const created = await call(url, 'POST', '/users', { token: admin, body: { username: 'cam-logs', password, role: 'model_manager', sites: [label] } });
      expect(created.status).toBe(201);
      const wrong = 'wrong-password-c81e0a';
      expect((await call(url, 'POST', '/login', { body: { username: 'cam-logs', password: wrong } })).status).toBe(401);
      const login = await call(url, 'POST', '/login', { body: { username: 'cam-logs', password } });
      expect(login.status).toBe(200);
      const newPassword = 'second-password-5e2f99';
      const changed = await call(url, 'PUT', '/me/password', { token: login.body.access_token, body: { old_password: password, new_password: newPassword } });
      expect(changed.status).toBe(200);
      const refreshed = await call(url, 'POST', '/refresh', { body: { refresh_token: changed.body.refresh_token } });
      expect(refreshed.status).toBe(200);
      const token = refreshed.body.access_token;
      expect((await postFrame(url, token, { label, key: 'cam', ...defaultMeta }, jpeg(1))).status).toBe(200);
      const viaHeader = await connect(url, `/ws/labels/${label}`, token, 'header');
      await viaHeader.until(() => viaHeader.frames.length === 1);
      viaHeader.close();
      expect((await call(url, 'GET', '/labels', { token: 'not.a.token' })).status).toBe(401);
      expect((await call(url, 'POST', '/logout', { token })).status).toBe(200);
      expect((await call(url, 'POST', '/refresh', { body: { refresh_token: changed.body.refresh_token } })).status).toBe(401); // a retired one
      secrets.push(admin, password, wrong, newPassword, login.body.access_token, login.body.refresh_token, changed.body.access_token,
        changed.body.refresh_token, token, refreshed.body.refresh_token);
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await svc.stop();
    }
    const log = lines.join('');
    const records = log.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg?: string });
    expect(records.length).toBeGreaterThan(20);
    expect(records.some((r) => r.level === 10 || r.level === 20)).toBe(true); // trace and debug lines were written
    for (const s of secrets) {
      expect(log).not.toContain(s);
      if (s.split('.').length === 3) expect(log).not.toContain(s.split('.')[2]); // a JWT's signature alone
    }
  });
});
