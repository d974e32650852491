// Failed-login limits (per username and per client address, failures only; in memory, or in Redis
// when configured) and the GET /labels limit (per user).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Sandbox, POSTGRES_REDIS, SQLITE, REDIS_URL, seedUsers, startService, type SeededUser, type TestService } from '../helpers/service.js';
import { call } from '../helpers/http.js';

// Long enough for 16 argon2 verifications on a loaded machine, short enough to wait out once.
const WINDOW_MS = 4000;

describe.each([SQLITE, POSTGRES_REDIS])('login limits ($name)', (backend) => {
  const sandbox = new Sandbox(backend, 'limits');
  let srv: TestService;
  let url: string;
  let users: Record<string, SeededUser>;
  const login = (username: string, password: string) => call(url, 'POST', '/login', { body: { username, password } });

  beforeAll(async () => {
    srv = await startService({ sandbox, env: { LOGIN_MAX_FAILURES: '3', LOGIN_WINDOW_MS: String(WINDOW_MS), LABELS_RATE_MAX: '3', LABELS_RATE_WINDOW_MS: '60000' } });
    ({ url, users } = await seedUsers(srv, ['alice', 'bob', 'carol', 'dave'].map((username) => ({ username, role: 'user' as const }))));
  });
  afterAll(async () => {
    await srv?.stop();
    await sandbox.cleanup();
  });

  it('does not count successful logins', async () => {
    for (let i = 0; i < 6; i++) expect((await login('carol', users.carol.password)).status).toBe(200);
  });

  it('counts wrong current passwords at PUT /me/password', async () => {
    const token = users.dave.access_token;
    for (let i = 0; i < 3; i++) {
      expect((await call(url, 'PUT', '/me/password', { token, body: { old_password: 'wrong-password', new_password: 'whatever-123' } })).status).toBe(401);
    }
    const r = await call(url, 'PUT', '/me/password', { token, body: { old_password: users.dave.password, new_password: 'whatever-123' } });
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('limits failures per username: 429 with Retry-After, even for the right password, then lets go', async () => {
    for (let i = 0; i < 3; i++) expect((await login('alice', 'wrong-password')).status).toBe(401);
    const limited = await login('alice', users.alice.password);
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('RATE_LIMITED');
    const retry = Number(limited.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(WINDOW_MS / 1000);
    expect(limited.body.detail).toMatch(new RegExp(`retry in ${retry} seconds`));
    // Another username from the same address is not limited (the address has 6 failures of 15).
    expect((await login('bob', users.bob.password)).status).toBe(200);
    await new Promise((r) => setTimeout(r, WINDOW_MS + 100));
    expect((await login('alice', users.alice.password)).status).toBe(200);
  });

  it('limits GET /labels per user (429 with Retry-After), not per address', async () => {
    for (let i = 0; i < 3; i++) expect((await call(url, 'GET', '/labels', { token: users.bob.access_token })).status).toBe(200);
    const r = await call(url, 'GET', '/labels', { token: users.bob.access_token });
    expect(r.status).toBe(429);
    expect(r.body.code).toBe('RATE_LIMITED');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await call(url, 'GET', '/labels', { token: users.carol.access_token })).status).toBe(200);
  });

  // Last: it blocks this server's only client address. (The windows of the failures above are over.)
  it('limits failures per client address across usernames', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 16; i++) statuses.push((await login(`nobody-${i}`, 'wrong-password')).status);
    expect(statuses.slice(0, 15).every((s) => s === 401)).toBe(true);
    expect(statuses[15]).toBe(429);
    expect((await login('carol', users.carol.password)).status).toBe(429);
  });
});

describe('GET /labels limit shared by two instances through Redis', () => {
  it('counts per user across instances', async () => {
    const sandbox = new Sandbox(POSTGRES_REDIS, 'limits_pair');
    const env = { LABELS_RATE_MAX: '3', LABELS_RATE_WINDOW_MS: '60000' };
    const [a, b] = [await startService({ sandbox, env }), await startService({ sandbox, env })];
    const redis = new Redis(REDIS_URL);
    try {
      const { users } = await seedUsers(a, [{ username: 'one', role: 'user' }, { username: 'two', role: 'user' }]);
      const get = (svc: TestService, user: string) => call(svc.url, 'GET', '/labels', { token: users[user].access_token });
      expect((await get(a, 'one')).status).toBe(200);
      expect((await get(b, 'one')).status).toBe(200);
      expect((await get(a, 'one')).status).toBe(200);
      const limited = await get(b, 'one');
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('RATE_LIMITED');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(50);
      expect((await get(b, 'two')).status).toBe(200);
      expect((await redis.keys(`${sandbox.redisPrefix}rate:*`)).length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
      await Promise.all([a.stop(), b.stop()]);
      await sandbox.cleanup();
    }
  });
});
