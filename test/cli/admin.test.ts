// The admin CLI works on the same database (and Redis) as a running server: its tokens are accepted
// by the server (a cache miss finds the session), and a password it sets ends the server's sessions.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
    srv = await startService({ sandbox, env: { LOGIN_MAX_FAILURES: '3' } });
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
    expect((await cli(sandbox, ['help'])).code).toBe(0);
  });

  it('says which database and secret it uses, and warns when the database is not the server’s', async () => {
    const used = await cli(sandbox, ['list-users']);
    expect(used.err).toMatch(backend.pg ? /accounts: PostgreSQL at postgres:\/\/\S+ \(DATABASE_URL\); tokens signed with JWT_SECRET/ : /accounts: SQLite \S+accounts\.sqlite \(DATA_DIR\); tokens signed with JWT_SECRET/);
    expect(used.err).not.toMatch(/warning/);
    // Without JWT_SECRET it signs with the secret kept in DATA_DIR (the quick-start server's), and says so.
    const noSecret = await cli(sandbox, ['token', 'pia'], { JWT_SECRET: '' });
    expect(noSecret.code).toBe(0);
    expect(noSecret.err).toContain(`tokens signed with the secret kept in ${sandbox.dataDir}/jwt-secret`);
    if (!backend.pg) {
      const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-other-'));
      try {
        const wrong = await cli(sandbox, ['list-users'], { DATA_DIR: elsewhere });
        expect(wrong.err).toMatch(/warning: this database is new: is this the server's DATA_DIR/);
      } finally {
        fs.rmSync(elsewhere, { recursive: true, force: true });
      }
    }
  });

  it('unlocks a user locked by failed logins; set-password lifts the lock too', async () => {
    const login = (password: string) => call(srv.url, 'POST', '/login', { body: { username: 'pia', password } });
    const lock = async () => {
      for (let i = 0; i < 3; i++) expect((await login('wrong-password')).status).toBe(401);
      const refused = await login('wrong-again');
      expect(refused.status).toBe(429);
      expect(refused.body.detail).toMatch(/^Too many failed logins, retry in \d+ seconds \(at \d\d:\d\d:\d\d UTC\); an admin can unlock the account now$/);
    };
    await lock();
    const unlocked = await cli(sandbox, ['unlock', 'pia']);
    expect(unlocked.code).toBe(0);
    expect(unlocked.out).toMatch(/pia may log in again/);
    await lock();
    expect((await cli(sandbox, ['set-password', 'pia', '--password', 'pia-password-2'])).code).toBe(0);
    expect((await login('pia-password-2')).status).toBe(200);
    expect((await cli(sandbox, ['unlock', 'nobody'])).code).toBe(1);
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
