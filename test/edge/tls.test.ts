// TLS served directly (TLS_CERT, TLS_KEY) with certificates the test makes: HTTPS and WSS work,
// bad files stop the start with a message naming the setting, and SIGHUP gives new connections a
// renewed certificate while open viewers carry on (a real process, as npm start runs it).
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { readTls } from '../../src/edge/tls.js';
import { Sandbox, startService } from '../helpers/service.js';
import { built, startProcess } from '../helpers/process.js';
import { selfSignedCertificate } from '../helpers/tls.js';
import { Client, defaultMeta, frameMessage, jpeg, seqOf, uniqueLabel } from '../helpers/frames.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-tls-'));
const first = selfSignedCertificate(dir, 'first');
const second = selfSignedCertificate(dir, 'second');
const ca = [first.pem, second.pem];
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function request(url: string, method: string, route: string, body?: unknown): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url + route, { method, ca, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

async function wss(url: string, route: string, token: string): Promise<Client> {
  const u = new URL(route, url.replace(/^https/, 'wss'));
  u.searchParams.set('token', token);
  const ws = new WebSocket(u, { ca, perMessageDeflate: false });
  const c = new Client(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return c;
}

/** The common name of the certificate a new TLS connection is given. */
function servedName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca }, () => {
      const cn: string | string[] | undefined = s.getPeerCertificate().subject.CN;
      s.destroy();
      resolve(String(Array.isArray(cn) ? cn[0] : cn));
    });
    s.on('error', reject);
  });
}

describe('TLS settings', () => {
  it('serve HTTPS and WSS, with HSTS', async () => {
    const svc = await startService({ env: { TLS_CERT: first.cert, TLS_KEY: first.key } });
    try {
      expect(svc.url).toMatch(/^https:/);
      const health = await request(svc.url, 'GET', '/healthz');
      expect(health.status).toBe(200);
      expect(health.headers['strict-transport-security']).toMatch(/max-age=/);
      const token = await svc.token('admin');
      const c = await wss(svc.url, `/ws/stream/${uniqueLabel()}/cam`, token);
      c.send('{"action":"ping"}');
      await c.until(() => c.texts.length === 1);
      expect(c.texts[0]).toEqual({ action: 'pong' });
      c.close();
    } finally {
      await svc.stop();
    }
  });

  it.each([
    ['only a certificate', () => loadConfig({ TLS_CERT: first.cert }), 'TLS_KEY'],
    ['only a key', () => loadConfig({ TLS_KEY: first.key }), 'TLS_CERT'],
    ['a missing file', () => loadConfig({ TLS_CERT: path.join(dir, 'nope.crt'), TLS_KEY: first.key }), 'TLS_CERT'],
    ['a key of another certificate', () => readTls({ tlsCert: first.cert, tlsKey: second.key }), 'TLS_KEY'],
    ['a key given as the certificate', () => readTls({ tlsCert: first.key, tlsKey: first.key }), 'TLS_CERT'],
    ['a certificate given as the key', () => readTls({ tlsCert: first.cert, tlsKey: first.cert }), 'TLS_KEY'],
  ])('refuse %s, naming the setting', (_what, load, setting) => {
    let err: unknown;
    try {
      load();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).setting).toBe(setting);
  });
});

describe.skipIf(!built())('SIGHUP with TLS', () => {
  it('a key of another certificate stops the start (exit 2) with a message naming TLS_KEY', async () => {
    const sandbox = new Sandbox();
    try {
      await expect(startProcess(sandbox.env({ TLS_CERT: first.cert, TLS_KEY: second.key }))).rejects.toThrow(/exited \(2\)[\s\S]*Configuration error: TLS_KEY/);
    } finally {
      await sandbox.cleanup();
    }
  });

  it('reloads the certificate for new connections; open viewers and producers carry on; a bad file keeps the old one', async () => {
    const live = { cert: path.join(dir, 'live.crt'), key: path.join(dir, 'live.key') };
    fs.copyFileSync(first.cert, live.cert);
    fs.copyFileSync(first.key, live.key);
    const sandbox = new Sandbox();
    const password = 'pw-admin-12345678';
    const proc = await startProcess(sandbox.env({ TLS_CERT: live.cert, TLS_KEY: live.key, ADMIN_PASSWORD: password, LOG_LEVEL: 'info' }));
    try {
      expect(proc.url).toMatch(/^https:/);
      expect(await servedName(proc.port)).toBe('first');
      const { access_token } = (await request(proc.url, 'POST', '/login', { username: 'admin', password })).body;
      const label = uniqueLabel();
      const producer = await wss(proc.url, '/ws/frames', access_token);
      const send = async (seq: number) => {
        const before = producer.texts.length;
        producer.send(frameMessage({ label, key: 'cam', ...defaultMeta }, jpeg(seq)));
        await producer.until(() => producer.texts.length > before);
        expect(producer.texts.at(-1)).toMatchObject({ status: 'ok' });
      };
      await send(1);
      const viewer = await wss(proc.url, `/ws/labels/${label}`, access_token);
      await viewer.until(() => viewer.frames.length === 1);

      fs.copyFileSync(second.cert, live.cert);
      fs.copyFileSync(second.key, live.key);
      proc.child.kill('SIGHUP');
      await proc.waitForOutput(/TLS certificate reloaded/);
      expect(await servedName(proc.port)).toBe('second');
      await send(2);
      await viewer.until(() => viewer.frames.length === 2);
      expect(viewer.frames.map((f) => seqOf(f.image).seq)).toEqual([1, 2]);
      expect(viewer.closed).toBeNull();

      fs.writeFileSync(live.key, 'not a key');
      proc.child.kill('SIGHUP');
      await proc.waitForOutput(/TLS certificate not reloaded/);
      expect(await servedName(proc.port)).toBe('second');
      expect((await request(proc.url, 'GET', '/healthz')).status).toBe(200);
      await send(3);
      await viewer.until(() => viewer.frames.length === 3);
      viewer.close();
      producer.close();
      expect((await proc.stop()).code).toBe(0);
    } finally {
      await proc.stop();
      await sandbox.cleanup();
    }
  });
});
