// What browsers may do: CORS only for CORS_ORIGINS (no `*` unless configured), WebSocket upgrades
// from a page of another origin refused unless listed (its own origin and programs without an
// Origin always allowed), helmet's security headers without a Content-Security-Policy (/docs works).
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { socketOriginAllowed } from '../../src/edge/browser-security.js';
import { uniqueLabel } from '../helpers/frames.js';

let plain: TestService;
let listed: TestService;
let anyOrigin: TestService;
beforeAll(async () => {
  [plain, listed, anyOrigin] = await Promise.all([
    startService(),
    startService({ env: { CORS_ORIGINS: 'https://control.example.com' } }),
    startService({ env: { CORS_ORIGINS: '*' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([plain?.stop(), listed?.stop(), anyOrigin?.stop()]);
});

/** Opens a socket with the given Origin header (undefined: none); resolves with the outcome. */
function upgrade(svc: TestService, token: string, origin: string | undefined): Promise<{ status: number; body?: any }> {
  const u = new URL(`/ws/stream/${uniqueLabel()}/cam`, svc.url.replace(/^http/, 'ws'));
  u.searchParams.set('token', token);
  const ws = new WebSocket(u, { perMessageDeflate: false, ...(origin !== undefined ? { origin } : {}) });
  return new Promise((resolve) => {
    ws.once('open', () => {
      ws.terminate();
      resolve({ status: 101 });
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    ws.once('error', () => {});
  });
}

describe('CORS', () => {
  it('is off by default: no Access-Control-Allow-Origin for any origin', async () => {
    const res = await fetch(`${plain.url}/healthz`, { headers: { origin: 'https://evil.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await fetch(`${plain.url}/labels`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows the listed origins only', async () => {
    const ok = await fetch(`${listed.url}/labels`, { method: 'OPTIONS', headers: { origin: 'https://control.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://control.example.com');
    const no = await fetch(`${listed.url}/labels`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
    expect(no.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows every origin only when configured with *', async () => {
    const res = await fetch(`${anyOrigin.url}/healthz`, { headers: { origin: 'https://anywhere.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('https://anywhere.example'); // reflected
  });
});

describe('WebSocket origins', () => {
  it('refuses an upgrade from a page of another origin with 403 JSON, before the socket opens', async () => {
    const token = await plain.token('admin');
    const r = await upgrade(plain, token, 'https://evil.example');
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ code: 'ORIGIN_FORBIDDEN' });
    expect(r.body.detail).toContain('https://evil.example');
    expect((await upgrade(plain, token, 'null')).status).toBe(403);
  });

  it('allows its own origin, no Origin at all (producers, scripts), and the listed origins', async () => {
    const token = await plain.token('admin');
    expect((await upgrade(plain, token, plain.url)).status).toBe(101);
    expect((await upgrade(plain, token, undefined)).status).toBe(101);
    const t2 = await listed.token('admin');
    expect((await upgrade(listed, t2, 'https://control.example.com')).status).toBe(101);
    expect((await upgrade(listed, t2, 'https://other.example.com')).status).toBe(403);
    const t3 = await anyOrigin.token('admin');
    expect((await upgrade(anyOrigin, t3, 'https://anywhere.example')).status).toBe(101);
  });

  it.each([
    ['http://127.0.0.1:8000', '127.0.0.1:8000', [], true],
    ['http://127.0.0.1:8000', '127.0.0.1:9000', [], false],
    ['https://Site.Example', 'site.example', [], true],
    ['https://a.example', 'b.example', ['https://a.example'], true],
    ['https://a.example', 'b.example', ['*'], true],
    ['null', 'b.example', [], false],
    ['https://a.example', undefined, [], false],
  ] as const)('origin %s on host %s with %j: %s', (origin, host, list, allowed) => {
    expect(socketOriginAllowed(origin, host, list)).toBe(allowed);
  });
});

describe('security headers', () => {
  it('are set on API replies (helmet), without a Content-Security-Policy or HSTS over plain HTTP', async () => {
    const res = await fetch(`${plain.url}/healthz`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('content-security-policy')).toBeNull();
    expect(res.headers.get('strict-transport-security')).toBeNull();
    const err = await fetch(`${plain.url}/labels`);
    expect(err.status).toBe(401);
    await err.text();
    expect(err.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('leave /docs working', async () => {
    const page = await fetch(`${plain.url}/docs/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const scripts = [...html.matchAll(/src="\.?\/?([^"]+\.js)"/g)].map((m) => m[1]);
    expect(scripts.length).toBeGreaterThan(0);
    for (const s of scripts) {
      const res = await fetch(`${plain.url}/docs/${s!.replace(/^docs\//, '')}`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    expect((await fetch(`${plain.url}/openapi.json`)).status).toBe(200);
  });
});
