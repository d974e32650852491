// Tokens never reach the logs: sockets may carry them as ?token= (DESIGN.md §2).
import { PassThrough } from 'node:stream';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { buildApp } from '../src/app.js';
import { connect } from './helpers/frames.js';
import { TEST_SECRET } from './helpers/server.js';

describe('request logs', () => {
  it('do not contain the token of a socket or a request', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-log-'));
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (d) => lines.push(String(d)));
    const svc = await buildApp(loadConfig({ JWT_SECRET: TEST_SECRET, DATA_DIR: dataDir, LOG_LEVEL: 'info' }), { logStream: stream });
    try {
      await svc.app.listen({ host: '127.0.0.1', port: 0 });
      const url = `http://127.0.0.1:${(svc.app.server.address() as AddressInfo).port}`;
      await svc.accounts.createUser({ username: 'watcher', password: 'watcher-password-1', role: 'admin' });
      const { access_token } = await svc.accounts.issueTokens('watcher');
      const c = await connect(url, '/ws/labels/north', access_token);
      await c.waitClose();
      await fetch(`${url}/labels?token=${access_token}`, { headers: { authorization: `Bearer ${access_token}` } });
      await new Promise((r) => setTimeout(r, 100));
      const log = lines.join('');
      expect(log).toContain('/ws/labels/north?token=[redacted]');
      expect(log).not.toContain(access_token);
      expect(log).not.toContain(access_token.split('.')[2]);
    } finally {
      await svc.app.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
