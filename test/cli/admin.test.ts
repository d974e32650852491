// The admin CLI works on the same database (and Redis) as a running server: its tokens are accepted
// by the server (a cache miss finds the session), and a password it sets ends the server's sessions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessLoss } from '../../src/auth/authenticator.js';
import { runCli, parseArgs } from '../../src/cli/admin.js';
import { Sandbox, POSTGRES_REDIS, SQLITE, startService, type TestService } from '../helpers/service.js';
import { call, eventually } from '../helpers/http.js';

async function cli(sandbox: Sandbox, argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, sandbox.env(env), { out: (l) => out.push(l), err: (l) => err.push(l) }, { schema: sandbox.schema });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe.each([SQLITE, POSTGRES_REDIS])('admin CLI ($name)', (backend) => {
  const sandbox = new Sandbox(backend, 'cli');
  let srv: TestService;
  beforeAll(async () => {
    srv = await startService({ sandbox });
  });
  afterAll(async () => {
    await srv?.stop();
    await sandbox.cleanup();
  });

  it('creates users (generated password printed once, or given), lists them', async () => {
    const made = await cli(sandbox, ['create-user', 'pia', '--role', 'user', '--sites', 'north, south']);
    expect(made.code).toBe(0);
    expect(made.out).toMatch(/created user pia \(id \d+, role user, sites north, south\)/);
    const password = /password: (\S+)/.exec(made.out)![1];
    expect((await call(srv.url, 'POST', '/login', { body: { username: 'pia', password } })).status).toBe(200);

    expect((await cli(sandbox, ['create-user', 'prod-1', '--role=model_manager', '--password', 'producer-pass-1'])).out).not.toMatch(/password:/);
    const list = await cli(sandbox, ['list-users']);
    expect(list.out.split('\n')[0]).toMatch(/^ID\s+USERNAME\s+ROLE\s+ACTIVE\s+SITES$/);
    expect(list.out).toMatch(/pia\s+user\s+yes\s+north,south/);
    const json = JSON.parse((await cli(sandbox, ['list-users', '--json'])).out);
    expect(json.map((u: { username: string }) => u.username)).toEqual(['pia', 'prod-1']);
  });

  it('prints tokens the running server accepts, and a set-password ends that session there', async () => {
    const t = await cli(sandbox, ['token', 'prod-1']);
    expect(t.code).toBe(0);
    const token = t.out.trim();
    const me = await call(srv.url, 'GET', '/me', { token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ username: 'prod-1', role: 'model_manager' });

    const pair = JSON.parse((await cli(sandbox, ['token', 'prod-1', '--refresh'])).out);
    expect(Object.keys(pair).sort()).toEqual(['access_token', 'refresh_token']);
    expect((await call(srv.url, 'POST', '/refresh', { body: { refresh_token: pair.refresh_token } })).status).toBe(200);

    // An open socket on the server under the CLI's session, then the CLI ends it.
    const p = await srv.accounts.authenticator.authenticate(token);
    const lost: AccessLoss[] = [];
    srv.accounts.authenticator.watch(p, () => true, (why) => lost.push(why)); // prod-1 has no sites: only the session matters here
    const set = await cli(sandbox, ['set-password', 'prod-1', '--password', 'producer-pass-2']);
    expect(set.code).toBe(0);
    // Pushed through Redis at once; without Redis, the server's periodic recheck (300 ms here).
    const ms = await eventually(() => lost.length > 0, 2000, 'onLost after the CLI set a password');
    expect(lost).toEqual(['session']);
    expect(ms).toBeLessThan(2000);
    await eventually(async () => (await call(srv.url, 'GET', '/me', { token })).status === 401, 2000, 'HTTP refusal');
    expect((await call(srv.url, 'POST', '/login', { body: { username: 'prod-1', password: 'producer-pass-2' } })).status).toBe(200);
  });

  it('reports usage and errors with exit codes', async () => {
    expect((await cli(sandbox, [])).code).toBe(2);
    expect((await cli(sandbox, ['frobnicate'])).code).toBe(2);
    expect((await cli(sandbox, ['create-user', 'zed'])).err).toMatch(/--role is required/);
    expect((await cli(sandbox, ['create-user', 'zed', '--role', 'boss'])).code).toBe(2);
    const dup = await cli(sandbox, ['create-user', 'pia', '--role', 'user']);
    expect(dup.code).toBe(1);
    expect(dup.err).toMatch(/already exists/);
    const unknown = await cli(sandbox, ['token', 'nobody']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/not found/);
    const noSecret = await cli(sandbox, ['token', 'pia'], { JWT_SECRET: '' });
    expect(noSecret.code).toBe(2);
    expect(noSecret.err).toMatch(/JWT_SECRET is not set/);
    expect((await cli(sandbox, ['help'])).code).toBe(0);
  });
});

describe('CLI argument parsing', () => {
  it('reads flags in both forms', () => {
    expect(parseArgs(['create-user', 'a', '--role=user', '--sites', 'x,y', '--password', 'p'])).toEqual({
      command: 'create-user',
      args: ['a'],
      flags: new Map([['role', 'user'], ['sites', 'x,y'], ['password', 'p']]),
    });
    expect(() => parseArgs(['token', '--bogus'])).toThrow(/unknown option/);
    expect(() => parseArgs(['create-user', 'a', '--role'])).toThrow(/needs a value/);
  });
});
