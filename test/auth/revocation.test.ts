// Authenticator.watch: open sockets lose their session or their access within seconds, by push
// (in-process, or Redis pub/sub between instances) and by the periodic recheck.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { AccessLoss } from '../../src/auth/authenticator.js';
import { canUploadAny, canWatch } from '../../src/auth/principal.js';
import { Sandbox, BACKENDS, POSTGRES_REDIS, SQLITE, seedUsers, startService, type TestService } from '../helpers/service.js';
import { call, eventually, payloadOf } from '../helpers/http.js';
import { connect, defaultMeta, jpeg, postFrame, sendUntilClosed, seqOf, sleep, uniqueLabel } from '../helpers/frames.js';
import { startPrivateRedis } from '../helpers/redis-server.js';

describe.each(BACKENDS)('revocation ($name)', (backend) => {
  const sandbox = new Sandbox(backend, 'revoke');
  let srv: TestService;
  let url: string;
  let admin: string;
  let n = 0;

  beforeAll(async () => {
    srv = await startService({ sandbox });
    const s = await seedUsers(srv, [{ username: 'root', role: 'admin' }]);
    url = s.url;
    admin = s.users.root.access_token;
  });
  afterAll(async () => {
    await srv?.stop();
    await sandbox.cleanup();
  });

  /** A new user with a session on `site`, and a watch of its principal on that site. */
  async function watched(role: 'user' | 'model_manager' = 'user', allowed = canWatch) {
    const site = uniqueLabel('yard');
    const username = `w${++n}`;
    const { users } = await seedUsers(srv, [{ username, role, sites: [site] }]);
    const u = users[username];
    const principal = await srv.accounts.authenticator.authenticate(u.access_token);
    const lost: AccessLoss[] = [];
    const stop = srv.accounts.authenticator.watch(principal, (p) => allowed(p, site), (why) => lost.push(why));
    return { site, user: u, lost, stop };
  }

  it('logout → onLost("session") within 2 s', async () => {
    const w = await watched();
    expect((await call(url, 'POST', '/logout', { token: w.user.access_token })).status).toBe(200);
    const ms = await eventually(() => w.lost.length > 0, 2000, 'onLost');
    expect(w.lost).toEqual(['session']);
    expect(ms).toBeLessThan(2000);
  });

  it('site deleted → onLost("access"); site renamed → onLost("access")', async () => {
    for (const how of ['DELETE', 'PATCH'] as const) {
      const w = await watched();
      const site = (await call(url, 'GET', '/sites', { token: admin })).body.sites.find((s: { name: string }) => s.name === w.site);
      const r = await call(url, how, `/sites/${site.id}`, { token: admin, body: how === 'PATCH' ? { name: `${w.site}-renamed` } : undefined });
      expect(r.status).toBeLessThan(300);
      await eventually(() => w.lost.length > 0, 2000, `onLost after ${how}`);
      expect(w.lost).toEqual(['access']);
      // The session itself lives on.
      expect((await call(url, 'GET', '/me', { token: w.user.access_token })).status).toBe(200);
    }
  });

  it('sites or role changed → onLost("access") only when access is lost', async () => {
    const keep = await watched();
    await call(url, 'PATCH', `/users/${keep.user.id}`, { token: admin, body: { sites: [keep.site, 'another'] } });
    const gone = await watched();
    await call(url, 'PATCH', `/users/${gone.user.id}`, { token: admin, body: { sites: ['elsewhere'] } });
    await eventually(() => gone.lost.length > 0, 2000, 'onLost after losing the site');
    expect(gone.lost).toEqual(['access']);
    expect(keep.lost).toEqual([]);

    const producer = await watched('model_manager', (p) => canUploadAny(p));
    await call(url, 'PATCH', `/users/${producer.user.id}`, { token: admin, body: { role: 'user' } });
    await eventually(() => producer.lost.length > 0, 2000, 'onLost after demotion');
    expect(producer.lost).toEqual(['access']);
    keep.stop();
  });

  it.each([
    ['deactivation', (id: number) => call(url, 'PATCH', `/users/${id}`, { token: admin, body: { is_active: false } })],
    ['password set by an admin', (id: number) => call(url, 'PATCH', `/users/${id}`, { token: admin, body: { password: 'new-password-9' } })],
    ['deletion', (id: number) => call(url, 'DELETE', `/users/${id}`, { token: admin })],
  ])('%s → onLost("session")', async (_what, act) => {
    const w = await watched();
    expect((await act(w.user.id)).status).toBeLessThan(300);
    await eventually(() => w.lost.length > 0, 2000, 'onLost');
    expect(w.lost).toEqual(['session']);
  });

  it('refresh reuse → onLost("session"); a stopped watch hears nothing', async () => {
    const w = await watched();
    const quiet = await watched();
    quiet.stop();
    await call(url, 'POST', '/refresh', { body: { refresh_token: w.user.refresh_token } });
    await call(url, 'POST', '/refresh', { body: { refresh_token: w.user.refresh_token } });
    await eventually(() => w.lost.length > 0, 2000, 'onLost after reuse');
    await call(url, 'POST', '/logout', { token: quiet.user.access_token });
    await new Promise((r) => setTimeout(r, 400));
    expect(quiet.lost).toEqual([]);
  });

  it('closes a real viewer socket (1008) on logout and when its site is removed', async () => {
    const site = uniqueLabel('cams');
    expect((await postFrame(url, admin, { label: site, key: 'cam', ...defaultMeta }, jpeg(1))).status).toBe(200);
    const { users } = await seedUsers(srv, [{ username: `viewer${++n}`, role: 'user', sites: [site] }]);
    const v = users[`viewer${n}`];

    const a = await connect(url, `/ws/labels/${site}`, v.access_token);
    await a.until(() => a.frames.length === 1);
    const t0 = Date.now();
    await call(url, 'POST', '/logout', { token: v.access_token });
    expect(await a.waitClose(2000)).toEqual({ code: 1008, reason: 'Token not active' });
    expect(Date.now() - t0).toBeLessThan(2000);

    const again = await srv.accounts.issueTokens(v.username);
    const b = await connect(url, `/ws/labels/${site}`, again.access_token, 'header');
    await b.until(() => b.frames.length === 1);
    await call(url, 'PATCH', `/users/${v.id}`, { token: admin, body: { sites: [] } });
    expect(await b.waitClose(2000)).toEqual({ code: 1008, reason: 'Not allowed to view this site' });
    // And it cannot come back.
    const c = await connect(url, `/ws/labels/${site}`, again.access_token);
    expect(await c.waitClose()).toEqual({ code: 1008, reason: 'Not allowed to view this site' });
  });

  it('closes a producer socket (1008) on logout having answered every frame it stored, and storing none after', async () => {
    // A producer sends its next frame again when a frame goes unanswered (examples/): a frame stored
    // but not answered would be shown twice.
    const site = uniqueLabel('cams');
    const { users } = await seedUsers(srv, [{ username: `producer${++n}`, role: 'model_manager', sites: [site] }]);
    const p = users[`producer${n}`];
    const c = await connect(url, '/ws/frames', p.access_token);
    const logout = c.until(() => c.texts.length >= 2).then(() => call(url, 'POST', '/logout', { token: p.access_token }));
    const sent = await sendUntilClosed(c, site, 'cam'); // frames in flight from before the logout until the close
    expect((await logout).status).toBe(200);
    expect(await c.waitClose(2000)).toEqual({ code: 1008, reason: 'Token not active' });
    const answered = c.texts.length;
    expect(c.texts).toEqual(Array.from({ length: answered }, () => ({ status: 'ok', message: 'Frame stored successfully.' })));
    expect(answered).toBeLessThan(sent);
    await sleep(300); // anything still being stored would land by now
    const latest = await srv.store.latest(site, 'cam');
    expect(seqOf(latest!.frame).seq).toBe(answered); // frames are stored in order: 1…answered and no more
  });
});

describe('revocation between two instances sharing Redis and PostgreSQL', () => {
  const sandbox = new Sandbox(POSTGRES_REDIS, 'revoke_pair');
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    a = await startService({ sandbox });
    b = await startService({ sandbox });
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await sandbox.cleanup();
  });

  it('a logout on one instance closes the other instance’s watch at once, and its cache refuses the token', async () => {
    const { users } = await seedUsers(a, [{ username: 'shared', role: 'user', sites: ['north'] }, { username: 'boss', role: 'admin' }]);
    const token = users.shared.access_token;
    // B learns of the session on a cache miss, then caches it.
    expect((await call(b.url, 'GET', '/me', { token })).status).toBe(200);
    const p = await b.accounts.authenticator.authenticate(token);
    const lost: AccessLoss[] = [];
    b.accounts.authenticator.watch(p, (x) => canWatch(x, 'north'), (why) => lost.push(why));

    expect((await call(a.url, 'POST', '/logout', { token })).status).toBe(200);
    const ms = await eventually(() => lost.length > 0, 2000, 'onLost on the other instance');
    expect(lost).toEqual(['session']);
    expect(ms).toBeLessThan(1000);
    expect((await call(b.url, 'GET', '/me', { token })).body.code).toBe('TOKEN_NOT_ACTIVE');

    // A site change made through A reaches B's watchers and cache too.
    const t2 = (await a.accounts.issueTokens('shared')).access_token;
    const p2 = await b.accounts.authenticator.authenticate(t2);
    const lost2: AccessLoss[] = [];
    b.accounts.authenticator.watch(p2, (x) => canWatch(x, 'north'), (why) => lost2.push(why));
    await call(a.url, 'PATCH', `/users/${users.shared.id}`, { token: users.boss.access_token, body: { sites: ['south'] } });
    await eventually(() => lost2.length > 0, 2000, 'onLost(access) on the other instance');
    expect(lost2).toEqual(['access']);
    expect((await call(b.url, 'GET', '/me', { token: t2 })).body.sites).toEqual(['south']);
  });
});

describe('a Redis subscription that drops', () => {
  it('drops cached sessions on reconnect, so an ending missed meanwhile is still honoured', async () => {
    const redis = await startPrivateRedis();
    const sandbox = new Sandbox(SQLITE, 'resync');
    const svcA = await startService({ sandbox, env: { REDIS_URL: redis.url } });
    const svcB = await startService({ sandbox, env: { REDIS_URL: redis.url } });
    const [a, b] = [svcA.accounts, svcB.accounts];
    const admin = new Redis(redis.url);
    try {
      await a.createUser({ username: 'roamer', password: 'password-123', role: 'user' });
      const { access_token } = await a.issueTokens('roamer');
      const sid = payloadOf(access_token).subject.jti;
      await b.authenticator.authenticate(access_token); // cached in B
      // Cut every subscriber off, and end the session while B cannot hear it.
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await a.login.logout({ userId: 0, username: 'roamer', role: 'user', sessionId: sid, sites: new Set() });
      await eventually(
        async () => b.authenticator.authenticate(access_token).then(() => false, (e: { code?: string }) => e.code === 'TOKEN_NOT_ACTIVE'),
        3000,
        'B to refuse the ended session',
      );
    } finally {
      admin.disconnect();
      await Promise.all([svcA.stop(), svcB.stop()]);
      await redis.stop();
      await sandbox.cleanup();
    }
  });
});
