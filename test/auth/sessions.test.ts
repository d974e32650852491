// Login, refresh (rotation and reuse), logout, /me, own password, every refused-token case, and the
// first admin; on SQLite, PostgreSQL and PostgreSQL + Redis sessions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { Sandbox, BACKENDS, seedUsers, SECRET, startService, type SeededUser, type TestService } from '../helpers/service.js';
import { call, payloadOf } from '../helpers/http.js';

const key = new TextEncoder().encode(SECRET);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

function sign(payload: Record<string, unknown>, opts: { secret?: string; alg?: string } = {}): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: opts.alg ?? 'HS256', typ: 'JWT' })
    .sign(opts.secret ? new TextEncoder().encode(opts.secret) : key);
}

describe.each(BACKENDS)('sessions and tokens ($name)', (backend) => {
  const sandbox = new Sandbox(backend, 'sessions');
  let srv: TestService;
  let url: string;
  let users: Record<string, SeededUser>;

  beforeAll(async () => {
    srv = await startService({ sandbox });
    ({ url, users } = await seedUsers(srv, [
      { username: 'alice', role: 'user', sites: ['north'] },
      { username: 'gus', role: 'guest', sites: ['north'] },
      { username: 'root', role: 'admin' },
      { username: 'victim', role: 'user' },
    ]));
  });
  afterAll(async () => {
    await srv?.stop();
    await sandbox.cleanup();
  });

  const login = (username: string, password: string) => call(url, 'POST', '/login', { body: { username, password } });

  it('logs in, shows /me, refreshes with rotation, logs out', async () => {
    const r = await login('alice', users.alice.password);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ role: 'user', username: 'alice', user_id: users.alice.id });
    const { access_token, refresh_token } = r.body;
    const a = payloadOf(access_token);
    const f = payloadOf(refresh_token);
    expect(a).toMatchObject({ subject: { username: 'alice' }, type: 'access' });
    expect(f).toMatchObject({ subject: { username: 'alice', jti: a.subject.jti }, type: 'refresh' });
    expect(a.exp - a.iat).toBe(srv.config.accessTokenTtlSec);
    expect(typeof f.jti).toBe('string');

    const me = await call(url, 'GET', '/me', { token: access_token });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      id: users.alice.id,
      username: 'alice',
      role: 'user',
      is_active: true,
      sites: ['north'],
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(JSON.stringify(me.body)).not.toMatch(/hash|argon/);

    // Rotation: the body form, then the Bearer form with the new refresh token.
    const r1 = await call(url, 'POST', '/refresh', { body: { refresh_token } });
    expect(r1.status).toBe(200);
    expect(Object.keys(r1.body).sort()).toEqual(['access_token', 'refresh_token']);
    expect(payloadOf(r1.body.refresh_token).subject.jti).toBe(a.subject.jti);
    const r2 = await call(url, 'POST', '/refresh', { token: r1.body.refresh_token });
    expect(r2.status).toBe(200);
    // The old access token still works (same session); so do the new ones.
    for (const t of [access_token, r1.body.access_token, r2.body.access_token]) expect((await call(url, 'GET', '/me', { token: t })).status).toBe(200);

    const out = await call(url, 'POST', '/logout', { token: r2.body.access_token });
    expect(out.status).toBe(200);
    expect(out.body).toEqual({ status: 'ok' });
    for (const t of [access_token, r2.body.access_token]) {
      const refused = await call(url, 'GET', '/me', { token: t });
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('TOKEN_NOT_ACTIVE');
    }
    const again = await call(url, 'POST', '/refresh', { body: { refresh_token: r2.body.refresh_token } });
    expect(again.status).toBe(401);
  });

  it('ends the session when a retired refresh token is presented again (reuse)', async () => {
    const { access_token, refresh_token } = (await login('alice', users.alice.password)).body;
    const rotated = await call(url, 'POST', '/refresh', { body: { refresh_token } });
    expect(rotated.status).toBe(200);
    const reuse = await call(url, 'POST', '/refresh', { body: { refresh_token } });
    expect(reuse.status).toBe(401);
    expect(reuse.body.code).toBe('INVALID_TOKEN');
    // The whole session is over: old and new access tokens, and the new refresh token.
    for (const t of [access_token, rotated.body.access_token]) expect((await call(url, 'GET', '/me', { token: t })).body.code).toBe('TOKEN_NOT_ACTIVE');
    expect((await call(url, 'POST', '/refresh', { body: { refresh_token: rotated.body.refresh_token } })).status).toBe(401);
  });

  it('lets only one of two concurrent refreshes with the same token win', async () => {
    const { refresh_token } = (await login('alice', users.alice.password)).body;
    const [x, y] = await Promise.all([1, 2].map(() => call(url, 'POST', '/refresh', { body: { refresh_token } })));
    expect([x.status, y.status].sort()).toEqual([200, 401]);
  });

  it('gives the same 401 for a wrong password and an unknown user, in about the same time', async () => {
    const wrong = await login('alice', 'not-the-password');
    const unknown = await login('nobody-here', 'not-the-password');
    expect((await login('', 'x')).status).toBe(422);
    for (const r of [wrong, unknown]) {
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ detail: 'Wrong username or password', code: 'BAD_CREDENTIALS' });
    }
    // Interleaved, so that warm-up and noise hit both alike; medians of 7.
    const tw: number[] = [];
    const tu: number[] = [];
    for (let i = 0; i < 7; i++) {
      tw.push((await login('alice', 'not-the-password')).ms);
      tu.push((await login('nobody-here', 'not-the-password')).ms);
    }
    const median = (xs: number[]) => xs.sort((p, q) => p - q)[3];
    const ratio = median(tu) / median(tw);
    // Without the dummy hash an unknown user would answer ~20x faster; keep slack for a loaded machine.
    expect(ratio).toBeGreaterThan(0.33);
    expect(ratio).toBeLessThan(3);
  });

  it('changes the own password: other sessions end, this one stays with a new refresh token', async () => {
    const pw = users.victim.password;
    const other = (await login('victim', pw)).body;
    const mine = (await login('victim', pw)).body;
    const wrong = await call(url, 'PUT', '/me/password', { token: mine.access_token, body: { old_password: 'wrong-password', new_password: 'a-new-password-1' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('WRONG_PASSWORD');
    const short = await call(url, 'PUT', '/me/password', { token: mine.access_token, body: { old_password: pw, new_password: 'short' } });
    expect(short.status).toBe(422);
    const ok = await call(url, 'PUT', '/me/password', { token: mine.access_token, body: { old_password: pw, new_password: 'a-new-password-1' } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: 'ok', access_token: expect.any(String), refresh_token: expect.any(String) });
    expect((await call(url, 'GET', '/me', { token: mine.access_token })).status).toBe(200);
    expect((await call(url, 'GET', '/me', { token: other.access_token })).body.code).toBe('TOKEN_NOT_ACTIVE');
    expect((await call(url, 'GET', '/me', { token: users.victim.access_token })).body.code).toBe('TOKEN_NOT_ACTIVE');
    // The old refresh token of this session is retired: presenting it ends the session.
    expect((await call(url, 'POST', '/refresh', { body: { refresh_token: ok.body.refresh_token } })).status).toBe(200);
    expect((await login('victim', pw)).status).toBe(401);
    expect((await login('victim', 'a-new-password-1')).status).toBe(200);
  });

  it('refuses guests changing their password (403)', async () => {
    const r = await call(url, 'PUT', '/me/password', { token: users.gus.access_token, body: { old_password: users.gus.password, new_password: 'another-password' } });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('FORBIDDEN');
  });

  describe('refused tokens', () => {
    let sid: string;
    beforeAll(async () => {
      sid = payloadOf((await srv.accounts.issueTokens('alice')).access_token).subject.jti;
    });
    const live = () => ({ subject: { username: 'alice', jti: sid }, type: 'access' });

    const cases: Array<[string, number, string, () => Promise<string | null>]> = [
      ['no token', 401, 'MISSING_TOKEN', async () => null],
      ['malformed', 401, 'INVALID_TOKEN', async () => 'not-a-jwt'],
      ['three garbage parts', 401, 'INVALID_TOKEN', async () => 'a.b.c'],
      ['expired', 401, 'TOKEN_EXPIRED', () => sign({ ...live(), iat: now() - 600, exp: now() - 60 })],
      ['not yet valid (nbf)', 401, 'TOKEN_NOT_ACTIVE', () => sign({ ...live(), iat: now(), nbf: now() + 600, exp: now() + 900 })],
      ['issued in the future (iat)', 401, 'TOKEN_NOT_ACTIVE', () => sign({ ...live(), iat: now() + 600, exp: now() + 900 })],
      ['wrong secret', 401, 'INVALID_TOKEN', () => sign({ ...live(), iat: now(), exp: now() + 60 }, { secret: 'another-secret-0123456789' })],
      ['alg none', 401, 'INVALID_TOKEN', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...live(), iat: now(), exp: now() + 60 })}.`],
      ['HS512 (another algorithm)', 401, 'INVALID_TOKEN', () => sign({ ...live(), iat: now(), exp: now() + 60 }, { alg: 'HS512' })],
      ['no exp', 401, 'INVALID_TOKEN', () => sign({ ...live(), iat: now() })],
      ['no type (old backend format)', 401, 'INVALID_TOKEN', () => sign({ subject: { username: 'alice', jti: sid }, iat: now(), exp: now() + 60 })],
      ['refresh token as access token', 401, 'INVALID_TOKEN', async () => (await srv.accounts.issueTokens('alice')).refresh_token],
      ['unknown session', 401, 'TOKEN_NOT_ACTIVE', () => sign({ subject: { username: 'alice', jti: 'no-such-session' }, type: 'access', iat: now(), exp: now() + 60 })],
    ];

    it.each(cases)('%s → %i %s', async (_name, status, code, make) => {
      const token = await make();
      const r = await call(url, 'GET', '/me', { token });
      expect(r.status).toBe(status);
      expect(r.body.code).toBe(code);
      expect(typeof r.body.detail).toBe('string');
    });

    it('accepts a well-formed token of the live session (control case)', async () => {
      const r = await call(url, 'GET', '/me', { token: await sign({ ...live(), iat: now(), exp: now() + 60 }) });
      expect(r.status).toBe(200);
    });

    it('refuses an access token at /refresh, and a refresh token without id', async () => {
      const pair = await srv.accounts.issueTokens('alice');
      expect((await call(url, 'POST', '/refresh', { body: { refresh_token: pair.access_token } })).body.code).toBe('INVALID_TOKEN');
      const noJti = await sign({ subject: { username: 'alice', jti: payloadOf(pair.access_token).subject.jti }, type: 'refresh', iat: now(), exp: now() + 60 });
      expect((await call(url, 'POST', '/refresh', { body: { refresh_token: noJti } })).body.code).toBe('INVALID_TOKEN');
      expect((await call(url, 'POST', '/refresh', {})).body.code).toBe('MISSING_TOKEN');
    });

    it('refuses the tokens of a deactivated user, and their login', async () => {
      await srv.accounts.createUser({ username: 'temp', password: 'temp-password-1', role: 'user' });
      const t = await srv.accounts.issueTokens('temp');
      const id = (await call(url, 'GET', '/me', { token: t.access_token })).body.id;
      const off = await call(url, 'PATCH', `/users/${id}`, { token: users.root.access_token, body: { is_active: false } });
      expect(off.status).toBe(200);
      expect(off.body.is_active).toBe(false);
      expect((await call(url, 'GET', '/me', { token: t.access_token })).body.code).toBe('TOKEN_NOT_ACTIVE');
      expect((await call(url, 'POST', '/refresh', { body: { refresh_token: t.refresh_token } })).status).toBe(401);
      // The right password is told the account is off; a wrong one learns nothing.
      const l = await login('temp', 'temp-password-1');
      expect(l.status).toBe(403);
      expect(l.body).toEqual({ detail: 'This account is deactivated', code: 'ACCOUNT_DISABLED' });
      const wrong = await login('temp', 'not-the-password');
      expect(wrong.status).toBe(401);
      expect(wrong.body.code).toBe('BAD_CREDENTIALS');
      await expect(srv.accounts.issueTokens('temp')).rejects.toMatchObject({ statusCode: 403 });
      // Active again: may log in (the old sessions stay ended).
      await call(url, 'PATCH', `/users/${id}`, { token: users.root.access_token, body: { is_active: true } });
      expect((await login('temp', 'temp-password-1')).status).toBe(200);
      expect((await call(url, 'GET', '/me', { token: t.access_token })).status).toBe(401);
    });
  });

  it('creates the first admin only on an empty database', async () => {
    expect(await srv.accounts.ensureFirstAdmin()).toEqual({ created: false, username: 'admin' });
    const fresh = new Sandbox(backend, 'first_admin');
    const s = await startService({ sandbox: fresh });
    try {
      const made = await s.accounts.ensureFirstAdmin();
      expect(made).toMatchObject({ created: true, username: 'admin' });
      expect(made.password).toMatch(/^[\w-]{20,}$/);
      expect((await s.accounts.ensureFirstAdmin()).created).toBe(false);
      const r = await call(s.url, 'POST', '/login', { body: { username: 'admin', password: made.password } });
      expect(r.status).toBe(200);
      expect(r.body.role).toBe('admin');
    } finally {
      await s.stop();
      await fresh.cleanup();
    }
    const given = new Sandbox(backend, 'first_admin2');
    const g = await startService({ sandbox: given, env: { ADMIN_USERNAME: 'boss', ADMIN_PASSWORD: 'boss-password-1' } });
    try {
      expect(await g.accounts.ensureFirstAdmin()).toEqual({ created: true, username: 'boss' });
      expect((await call(g.url, 'POST', '/login', { body: { username: 'boss', password: 'boss-password-1' } })).status).toBe(200);
    } finally {
      await g.stop();
      await given.cleanup();
    }
  });

  it('answers ping()', async () => {
    await expect(srv.connections.pingDatabase()).resolves.toBeUndefined();
  });
});
