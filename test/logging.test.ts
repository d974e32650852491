// Tokens never reach the logs: sockets may carry them as ?token= (DESIGN.md §2).
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { connect } from './helpers/frames.js';
import { startService } from './helpers/service.js';

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
