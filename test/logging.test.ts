// Tokens never reach the logs: sockets may carry them as ?token= (DESIGN.md §2). Nor do passwords,
// the JWT secret or the database password, at any level; every line is one JSON object.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { connect, defaultMeta, jpeg, postFrame, uniqueLabel } from './helpers/frames.js';
import { call } from './helpers/http.js';
import { POSTGRES, SECRET, startService } from './helpers/service.js';

describe('request logs', () => {
  it('do not contain the token of a socket or a request', async () => {
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (d) => lines.push(String(d)));
    const svc = await startService({ env: { LOG_LEVEL: 'info' }, logStream: stream });
    try {
      const url = svc.url;
      const access_token = await svc.token('watcher');
      const c = await connect(url, '/ws/labels/north', access_token);
      await c.waitClose();
      await fetch(`${url}/labels?token=${access_token}`, { headers: { authorization: `Bearer ${access_token}` } });
      await new Promise((r) => setTimeout(r, 100));
      const log = lines.join('');
      expect(log).toContain('/ws/labels/north?token=[redacted]');
      expect(log).not.toContain(access_token);
      expect(log).not.toContain(access_token.split('.')[2]);
    } finally {
      await svc.stop();
    }
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
