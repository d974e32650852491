// Outgoing webhooks against real receivers on spare ports: each new event is POSTed signed
// (HMAC-SHA256 over "<timestamp>.<body>"); a receiver that fails twice gets it on the third
// attempt; one that never answers is retried until WEBHOOK_RETRY_FOR_MS, then its delivery is
// marked failed with the last error shown to admins, and it holds up nobody else's deliveries.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES, SQLITE, startService, type TestService } from '../helpers/service.js';
import { call, eventually } from '../helpers/http.js';
import { defaultMeta, jpeg, postFrame, uniqueLabel } from '../helpers/frames.js';
import { signature, verifySignature } from '../../src/events/webhook-signing.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

interface Received {
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A receiver on a spare port; `answer` decides each reply (null: never answer). */
async function receiver(answer: (n: number) => number | null): Promise<{ url: string; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ at: Date.now(), headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = answer(got.length);
      if (status === null) return; // hang
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status >= 300 ? `refused ${got.length}` : 'ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

const ENV = { EVENT_FLUSH_MS: '20', WEBHOOK_TIMEOUT_MS: '1000', WEBHOOK_BACKOFF_MS: '100', WEBHOOK_RETRY_FOR_MS: '2500', WEBHOOK_CONCURRENCY: '2' };

describe.each([SQLITE, POSTGRES])('webhooks ($name)', (backend) => {
  let svc: TestService;
  let admin: string;
  const receivers: Array<{ close(): Promise<void> }> = [];
  const hook = async (body: object) => {
    const r = await call(svc.url, 'POST', '/webhooks', { token: admin, body });
    expect(r.status).toBe(201);
    return r.body;
  };
  const record = async (site: string, camera = 'cam') => {
    const r = await postFrame(svc.url, admin, { label: site, key: camera, ...defaultMeta, warnings_json: '{"warning_no_hardhat":{"count":2}}' }, jpeg(1));
    expect(r.status).toBe(200);
    await svc.events.recorder.flush();
  };
  const webhook = async (id: number) => (await call(svc.url, 'GET', `/webhooks/${id}`, { token: admin })).body;
  const deliveries = async (id: number) => (await call(svc.url, 'GET', `/webhooks/${id}/deliveries`, { token: admin })).body.deliveries;

  beforeAll(async () => {
    svc = await startService({ backend, env: ENV, name: 'webhooks' });
    admin = await svc.token('admin');
  });
  afterAll(async () => {
    await svc?.stop();
    await Promise.all(receivers.map((r) => r.close()));
  });

  it('POSTs each new event of its sites as JSON, signed over timestamp and body', async () => {
    const site = uniqueLabel('signed');
    const rx = await receiver(() => 200);
    receivers.push(rx);
    const created = await hook({ url: rx.url, sites: [site], secret: 'a-secret-of-24-characters' });
    expect(created).toMatchObject({ url: rx.url, sites: [site], enabled: true, secret: 'a-secret-of-24-characters', deliveries: { pending: 0, delivered: 0, failed: 0 } });
    expect((await webhook(created.id)).secret).toBeUndefined(); // shown once

    await record(site);
    await record(site); // the same event extended: no second POST
    await record(uniqueLabel('elsewhere')); // another site: not for this webhook
    await eventually(() => rx.got.length >= 1, 5000, 'the delivery');
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.got).toHaveLength(1);
    const { headers, body } = rx.got[0]!;
    const ts = headers['x-framestream-timestamp'] as string;
    const sig = headers['x-framestream-signature'] as string;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-framestream-event']).toBe('event.new');
    expect(sig).toBe(signature('a-secret-of-24-characters', Number(ts), body));
    expect(verifySignature('a-secret-of-24-characters', ts, body, sig)).toBe(true);
    expect(verifySignature('another-secret-000000', ts, body, sig)).toBe(false);
    expect(verifySignature('a-secret-of-24-characters', ts, body.replace('hardhat', 'hardhot'), sig)).toBe(false);
    // A replay: the same request, too old.
    expect(verifySignature('a-secret-of-24-characters', ts, body, sig, 300, Number(ts) + 301)).toBe(false);
    const payload = JSON.parse(body);
    expect(payload).toMatchObject({
      type: 'event.new',
      webhook_id: created.id,
      delivery_id: Number(headers['x-framestream-delivery']),
      event: { site, camera: 'cam', code: 'warning_no_hardhat', words: '2 people are not wearing a hardhat' },
    });
    await eventually(async () => (await webhook(created.id)).deliveries.delivered === 1, 3000, 'delivered counted');
    expect((await webhook(created.id)).last_success_at).not.toBeNull();
  });

  it('retries a receiver that fails twice, with growing waits, then delivers', async () => {
    const site = uniqueLabel('flaky');
    const rx = await receiver((n) => (n <= 2 ? 500 : 204));
    receivers.push(rx);
    const created = await hook({ url: rx.url, sites: [site] });
    expect(created.secret).toMatch(/^[A-Za-z0-9_-]{32}$/); // generated
    await record(site);
    await eventually(async () => (await deliveries(created.id))[0]?.status === 'delivered', 8000, 'delivered after retries');
    expect(rx.got).toHaveLength(3);
    expect(rx.got.map((g) => g.headers['x-framestream-delivery'])).toEqual(Array(3).fill(rx.got[0]!.headers['x-framestream-delivery']));
    const gaps = [rx.got[1]!.at - rx.got[0]!.at, rx.got[2]!.at - rx.got[1]!.at];
    expect(gaps[0]).toBeGreaterThanOrEqual(90);
    expect(gaps[1]).toBeGreaterThanOrEqual(190);
    const [d] = await deliveries(created.id);
    expect(d).toMatchObject({ status: 'delivered', attempts: 3, last_status: 204, last_error: 'HTTP 500: refused 2' });
    expect((await webhook(created.id)).last_error).toBe('HTTP 500: refused 2');
  });

  it('gives up on a receiver that never answers, shows why, and holds up nobody else', async () => {
    const site = uniqueLabel('dead');
    const dead = await receiver(() => null);
    const good = await receiver(() => 200);
    receivers.push(dead, good);
    const deadHook = await hook({ url: dead.url, sites: [site] });
    const goodHook = await hook({ url: good.url, sites: [site] });
    // The dead receiver's lane never holds more than WEBHOOK_CONCURRENCY requests.
    let deadLane = 0;
    const sampler = setInterval(() => (deadLane = Math.max(deadLane, svc.events.dispatcher.sending(deadHook.id))), 5);
    for (let i = 0; i < 4; i++) await record(site, `cam-${i}`); // 4 new events
    // The healthy receiver has all four sooner than one attempt on the dead receiver can time out
    // (WEBHOOK_TIMEOUT_MS, 1 s): the dead one's stuck lane holds up nobody.
    const t0 = Date.now();
    await eventually(() => good.got.length === 4, 3000, 'the good receiver’s deliveries');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(dead.got.length).toBeGreaterThan(0);
    // Collections while attempts wait for their timeout: a timeout signal that garbage collection
    // can take (AbortSignal.any on Node 20) would never fire, and the dead lane would stay stuck.
    const collector = setInterval(gc, 50);
    await eventually(async () => (await webhook(deadHook.id)).deliveries.failed === 4, 15_000, 'the dead receiver’s deliveries to fail');
    const w = await webhook(deadHook.id);
    expect(w.last_error).toBe('no answer within 1000 ms');
    expect(w.deliveries).toEqual({ pending: 0, delivered: 0, failed: 4 });
    const ds = await deliveries(deadHook.id);
    for (const d of ds) {
      expect(d).toMatchObject({ status: 'failed', last_error: 'no answer within 1000 ms', last_status: null, next_attempt_at: null });
      expect(d.attempts).toBeGreaterThanOrEqual(1);
    }
    // Retried while WEBHOOK_RETRY_FOR_MS lasted (the first two are tried again at about 1.1 s; the
    // last two, which waited for a lane, may first finish close to the 2.5 s given up on them).
    expect(ds.filter((d: { attempts: number }) => d.attempts >= 2).length).toBeGreaterThanOrEqual(2);
    expect((await webhook(goodHook.id)).deliveries).toEqual({ pending: 0, delivered: 4, failed: 0 });
    clearInterval(sampler);
    clearInterval(collector);
    expect(deadLane).toBe(2);
  });

  it('is managed by admins: change, disable, delete; bad input is refused and changes nothing', async () => {
    const created = await hook({ url: 'http://127.0.0.1:9/x' });
    expect(created.sites).toEqual([]);
    const patched = await call(svc.url, 'PATCH', `/webhooks/${created.id}`, { token: admin, body: { enabled: false, sites: ['a', 'b'] } });
    expect(patched.body).toMatchObject({ enabled: false, sites: ['a', 'b'] });
    for (const body of [{ url: 'ftp://x/y' }, { url: 'not a url at all' }, { url: 'http://x/y', secret: 'short' }, { url: 'http://x/y', sites: [''] }, { url: 'http://x/y', extra: 1 }]) {
      const r = await call(svc.url, 'POST', '/webhooks', { token: admin, body });
      expect(r.status).toBe(422);
      expect(r.body.code).toBe('VALIDATION');
    }
    expect((await call(svc.url, 'PATCH', `/webhooks/${created.id}`, { token: admin, body: { url: 'gopher://x' } })).status).toBe(422);
    expect((await webhook(created.id)).url).toBe('http://127.0.0.1:9/x');
    expect((await call(svc.url, 'DELETE', `/webhooks/${created.id}`, { token: admin })).status).toBe(204);
    expect((await call(svc.url, 'GET', `/webhooks/${created.id}`, { token: admin })).status).toBe(404);
    expect((await call(svc.url, 'DELETE', `/webhooks/${created.id}`, { token: admin })).status).toBe(404);
  });
});
