// The quick start: `node dist/src/main.js` (what `npm start` runs after building) starts on the
// embedded defaults, creates the first admin and prints its password; bad settings stop it with a
// message naming the setting.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from './helpers/frames.js';
import { mainBuilt, startMain } from './helpers/main-process.js';

const LISTENING = /Server listening|listening at/i;

describe('npm start', () => {
  it.skipIf(!mainBuilt)('starts on the defaults, prints the first admin password, serves, and stops on SIGTERM', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-main-'));
    const port = String(20000 + Math.floor(Math.random() * 20000));
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
});
