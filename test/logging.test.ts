// What the service logs: no token ever (sockets may carry it as ?token=, DESIGN.md §2); each rejected
// upload once, at warn, rate-limited per producer; not every /login and /me at the default level.
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, defaultMeta, frameMessage, jpeg, postFrame, uniqueLabel } from './helpers/frames.js';
import { call } from './helpers/http.js';
import { startService, type TestService } from './helpers/service.js';

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
