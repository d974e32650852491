// Logs: structured lines, each with its request's id (a proxy's X-Request-Id, else a new one), one
// line per socket opening and closing, and never a token (sockets may carry them as ?token=).
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, sleep } from './helpers/frames.js';
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

describe('log lines', () => {
  const lines: Record<string, any>[] = [];
  let svc: Awaited<ReturnType<typeof startService>>;
  beforeAll(async () => {
    const stream = new PassThrough();
    let buf = '';
    stream.on('data', (d) => {
      buf += String(d);
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
    });
    svc = await startService({ env: { LOG_LEVEL: 'info' }, logStream: stream });
  });
  afterAll(async () => svc?.stop());

  it('carry the request id a proxy sent, and give one to requests without (echoed as X-Request-Id)', async () => {
    const sent = await fetch(`${svc.url}/healthz?x`, { headers: { 'x-request-id': 'proxy-7f3a.42' } });
    expect(sent.headers.get('x-request-id')).toBe('proxy-7f3a.42');
    const none = await fetch(`${svc.url}/labels`);
    const made = none.headers.get('x-request-id')!;
    expect(made).toMatch(/^[0-9a-f-]{36}$/);
    // A header that is not an id (too long, odd characters) is replaced, not logged.
    const odd = await fetch(`${svc.url}/labels`, { headers: { 'x-request-id': 'x'.repeat(500) } });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await sleep(100);
    const of = (id: string) => lines.filter((l) => l.reqId === id);
    expect(of(made).map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
    expect(of(made)[1]).toMatchObject({ res: { statusCode: 401 } });
    expect(lines.some((l) => JSON.stringify(l).includes('x'.repeat(200)))).toBe(false);
  });

  it('have one line when a socket opens and one when it closes, with user, label and close code', async () => {
    const token = await svc.token('watcher-2', 'user', ['north']);
    const label = 'north';
    const v = await connect(svc.url, `/ws/labels/${label}`, token);
    await v.waitClose(); // no cameras: "No keys found", 1000
    const refused = await connect(svc.url, '/ws/labels/south', token);
    await refused.waitClose();
    const anonymous = await connect(svc.url, '/ws/labels/north', null);
    await anonymous.waitClose();
    await sleep(100);
    const opened = lines.filter((l) => l.msg === 'socket open' && l.user === 'watcher-2');
    const closed = lines.filter((l) => l.msg === 'socket closed' && l.user === 'watcher-2');
    expect(opened.map((l) => l.label)).toEqual(['north', 'south']);
    expect(closed.map((l) => [l.label, l.code])).toEqual([['north', 1000], ['south', 1008]]);
    expect(closed[1].reason).toBe('Not allowed to view this site');
    expect(opened[0].reqId).toBe(closed[0].reqId);
    expect(lines.find((l) => l.msg === 'socket refused')).toMatchObject({ label: 'north', code: 1008, reason: 'Missing authentication token' });
  });
});

