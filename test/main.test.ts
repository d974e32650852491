// The quick start: `node dist/src/main.js` (what `npm start` runs after building) starts on the
// embedded defaults, creates the first admin and prints its password; bad settings stop it with a
// message naming the setting.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from './helpers/frames.js';
import { mainBuilt, startMain } from './helpers/main-process.js';
import { freePort } from './helpers/ports.js';

const LISTENING = /Server listening|listening at/i;

describe('npm start', () => {
  it.skipIf(!mainBuilt)('starts on the defaults, prints the first admin password, serves, and stops on SIGTERM', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-main-'));
    const port = String(await freePort());
    try {
      const r = startMain({ DATA_DIR: dataDir, PORT: port });
      await r.waitFor(LISTENING);
      const pw = /password: (\S+)/.exec(r.out)?.[1];
      expect(pw, r.out).toBeTruthy();
      expect(r.out).toMatch(/JWT_SECRET is not set/);
      const login = await fetch(`http://127.0.0.1:${port}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: pw }) });
      expect(login.status).toBe(200);
      const { access_token } = await login.json();
      const labels = await fetch(`http://127.0.0.1:${port}/labels`, { headers: { authorization: `Bearer ${access_token}` } });
      expect(await labels.json()).toEqual({ labels: [] });
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      // Graceful shutdown: open sockets are told 1001 and may reconnect elsewhere.
      const viewer = await connect(`http://127.0.0.1:${port}`, '/ws/stream/north/cam', access_token);
      expect(await r.stop()).toBe(0);
      expect((await viewer.waitClose()).code).toBe(1001);
      // A second start finds the admin and prints no password.
      const again = startMain({ DATA_DIR: dataDir, PORT: port });
      await again.waitFor(LISTENING);
      expect(again.out).not.toMatch(/password:/);
      // Without JWT_SECRET the generated secret is kept in DATA_DIR: tokens survive the restart.
      const me = await fetch(`http://127.0.0.1:${port}/me`, { headers: { authorization: `Bearer ${access_token}` } });
      expect(me.status).toBe(200);
      expect(fs.statSync(path.join(dataDir, 'jwt-secret')).mode & 0o777).toBe(0o600);
      await again.stop();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it.skipIf(!mainBuilt)('stops with a message naming a bad setting', async () => {
    const r = startMain({ PORT: 'abc' });
    expect(await r.exited).toBe(2);
    expect(r.out).toContain('PORT');
  });

  it.skipIf(!mainBuilt)('says which database it cannot reach, naming the setting', async () => {
    const r = startMain({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', DATA_DIR: os.tmpdir() });
    expect(await r.exited).toBe(1);
    expect(r.out).toMatch(/Could not start: PostgreSQL at postgres:\/\/nobody@127\.0\.0\.1:1\/none \(DATABASE_URL\) is not reachable: .*ECONNREFUSED/);
  });

  it.skipIf(!mainBuilt)('says in one sentence that its port is taken', async () => {
    const net = await import('node:net');
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = String((blocker.address() as { port: number }).port);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-main-'));
    try {
      const r = startMain({ DATA_DIR: dataDir, PORT: port });
      expect(await r.exited).toBe(1);
      const line = r.out.split('\n').find((l) => l.startsWith('Could not start'));
      expect(line).toBe(`Could not start: 127.0.0.1:${port} is already in use by another program (set PORT, or HOST, to another one)`);
      expect(r.out).not.toMatch(/"stack"|at .*\.js:\d+/);
    } finally {
      blocker.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it.skipIf(!mainBuilt)('logs JSON lines to a pipe, readable lines with LOG_FORMAT=pretty', async () => {
    for (const [format, pattern] of [['auto', /^\{"level":30,.*"msg":"Server listening/m], ['pretty', /^\d\d:\d\d:\d\d\.\d{3} {2}INFO {3}Server listening/m]] as const) {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-main-'));
      try {
        const r = startMain({ DATA_DIR: dataDir, PORT: '0', LOG_FORMAT: format });
        await r.waitFor(LISTENING);
        expect(r.out).toMatch(pattern);
        await r.stop();
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    }
  });
});
