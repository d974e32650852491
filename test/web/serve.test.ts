// The viewer as the service serves it: the page at / under its Content-Security-Policy, its assets,
// and the API paths untouched beside it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { contentSecurityPolicy, VIEWER_DIR } from '../../src/web/serve.js';

describe('serving the viewer', () => {
  let svc: TestService;
  beforeAll(async () => {
    if (!fs.existsSync(path.join(VIEWER_DIR, 'index.html'))) throw new Error(`The web viewer is not built (${VIEWER_DIR}): run npm run build`);
    svc = await startService();
  });
  afterAll(async () => svc?.stop());

  it('serves the page at / with a CSP of its own origin only, and no inline script', async () => {
    const res = await fetch(`${svc.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy')!;
    const host = new URL(svc.url).host;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(csp).toContain(`connect-src 'self' ws://${host} wss://${host}`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const html = await res.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/src="\/assets\/[^"]+\.js"/);
      expect(body!.trim()).toBe('');
    }
    expect(html).not.toMatch(/https?:\/\//); // nothing from another origin
  });

  it('serves the hashed assets for long, and the page links only its own', async () => {
    const html = await (await fetch(`${svc.url}/`)).text();
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(2); // the script and the stylesheet
    for (const a of assets) {
      const res = await fetch(svc.url + a);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toContain('immutable');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    }
  });

  it('leaves the API as it was: its paths, JSON 404s, the OpenAPI document', async () => {
    expect((await fetch(`${svc.url}/labels`)).status).toBe(401);
    expect((await fetch(`${svc.url}/sites`)).status).toBe(401);
    const missing = await fetch(`${svc.url}/no-such-thing`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ detail: 'Not Found', code: 'NOT_FOUND' });
    const doc = await (await fetch(`${svc.url}/openapi.json`)).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/labels', '/login']));
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/assets') || p === '/*' || p === '/')).toBe(false);
    // The push socket's parameters the page uses are in the AsyncAPI document.
    const asyncapi = await (await fetch(`${svc.url}/asyncapi.json`)).json();
    const query = asyncapi.channels.labelFrames.bindings.ws.query.properties;
    expect(Object.keys(query)).toEqual(expect.arrayContaining(['wait', 'with_id', 'max_fps', 'rendition', 'token']));
  });

  it('keeps only well-formed hosts in the policy', () => {
    expect(contentSecurityPolicy('viewer.example:8443')).toContain("connect-src 'self' ws://viewer.example:8443 wss://viewer.example:8443;");
    expect(contentSecurityPolicy('[::1]:8000')).toContain('ws://[::1]:8000');
    expect(contentSecurityPolicy("evil.example; script-src 'unsafe-inline'")).toContain("connect-src 'self';");
    expect(contentSecurityPolicy(undefined)).toContain("connect-src 'self';");
  });
});
