// Uploads (POST /frames, WS /ws/frames): good frames are stored; every kind of bad input gets a clear
// 4xx error (or an error message on the socket) and stores nothing.
import net from 'node:net';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, STORES, type TestService } from '../helpers/service.js';
import { connect, defaultMeta, frameMessage, jpeg, multipart, postBody, postFrame, sendUntilClosed, seqOf, sleep, uniqueLabel, uploadParts } from '../helpers/frames.js';
import { eventually } from '../helpers/http.js';
import { head, rawRequest } from '../helpers/raw-http.js';

const MAX = 64 * 1024;

describe.each(STORES)('uploads, %s store', (store) => {
  let svc: TestService;
  let admin: string;
  beforeAll(async () => {
    svc = await startService({ store, env: { MAX_FRAME_BYTES: String(MAX) } });
    admin = await svc.token('admin');
  });
  afterAll(async () => svc?.stop());

  it('stores a frame posted as multipart and answers as the old backend did', async () => {
    const label = uniqueLabel();
    const r = await postFrame(svc.url, admin, { label, key: 'cam', ...defaultMeta }, jpeg(1));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok', message: 'Frame stored successfully.' });
    const f = await svc.store.latest(label, 'cam');
    expect(f).toMatchObject({ warnings: defaultMeta.warnings_json, detectionItems: defaultMeta.detection_items_json, width: '64', height: '48' });
    expect(seqOf(f!.frame).seq).toBe(1);
  });

  it('accepts PNG images and defaults the optional fields', async () => {
    const label = uniqueLabel();
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(32)]);
    const r = await postFrame(svc.url, admin, { label, key: 'cam', warnings_json: '', cone_polygons_json: '[]', pole_polygons_json: '[]' }, png, 'f.png');
    expect(r.status).toBe(200);
    expect(await svc.store.latest(label, 'cam')).toMatchObject({ detectionItems: '', width: '0', height: '0' });
  });

  const bad: Array<[string, Record<string, string | undefined>, Buffer | null, number, string]> = [
    ['no label', { label: undefined }, jpeg(1), 422, 'VALIDATION'],
    ['no key', { key: '' }, jpeg(1), 422, 'VALIDATION'],
    ['no file', {}, null, 422, 'VALIDATION'],
    ['an empty file', {}, Buffer.alloc(0), 422, 'VALIDATION'],
    ['warnings that are not JSON', { warnings_json: '{oops' }, jpeg(1), 422, 'VALIDATION'],
    ['a missing cone_polygons_json', { cone_polygons_json: undefined }, jpeg(1), 422, 'VALIDATION'],
    ['a non-integer width', { width: 'wide' }, jpeg(1), 422, 'VALIDATION'],
    ['a negative height', { height: '-3' }, jpeg(1), 422, 'VALIDATION'],
    ['a file that is not an image', {}, Buffer.from('GIF89a-not-accepted'), 415, 'NOT_AN_IMAGE'],
    ['an oversized file', {}, jpeg(1, MAX + 1), 413, 'PAYLOAD_TOO_LARGE'],
    ['an oversized body', {}, jpeg(1, MAX + 2 * 1024 * 1024), 413, 'PAYLOAD_TOO_LARGE'],
  ];
  it.each(bad)('refuses %s and stores nothing', async (_what, override, image, status, code) => {
    const label = uniqueLabel();
    const fields = { label, key: 'cam', ...defaultMeta, ...override };
    const r = await postFrame(svc.url, admin, fields, image);
    expect(r.status).toBe(status);
    expect(r.body).toMatchObject({ code });
    expect(typeof r.body.detail).toBe('string');
    expect(await svc.store.latest(label, 'cam')).toBeNull();
    expect(await svc.store.labels()).not.toContain(label);
  });

  it('refuses requests without a valid token (401) and bodies that are not multipart', async () => {
    const label = uniqueLabel();
    expect((await postFrame(svc.url, null, { label, key: 'cam', ...defaultMeta }, jpeg(1))).body).toMatchObject({ code: 'MISSING_TOKEN' });
    expect((await postFrame(svc.url, 'abc.def.ghi', { label, key: 'cam', ...defaultMeta }, jpeg(1))).status).toBe(401);
    const json = await fetch(`${svc.url}/frames`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(415);
    const broken = await fetch(`${svc.url}/frames`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'multipart/form-data; boundary=xyz' }, body: '--xyz\r\nContent-Disposition: form-data; name="label"\r\n\r\nabc' });
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ code: 'BAD_REQUEST' });
    expect(await svc.store.labels()).not.toContain(label);
  });

  it('stores frames sent over WS /ws/frames and answers each message, good or bad, without closing', async () => {
    const label = uniqueLabel();
    const c = await connect(svc.url, '/ws/frames', admin, 'header');
    const header = { label, key: 'cam', warnings_json: '', cone_polygons_json: '[]', pole_polygons_json: '[]', detection_items_json: '', width: 640, height: '480' };
    c.send(frameMessage(header, jpeg(1)));
    c.send(Buffer.from('no delimiter here'));
    c.send(Buffer.concat([Buffer.from('{not json'), Buffer.from('--IMG--'), jpeg(2)]));
    c.send(frameMessage({ ...header, warnings_json: '[' }, jpeg(3)));
    c.send(frameMessage({ ...header, width: 'x' }, jpeg(4)));
    c.send(frameMessage(header, Buffer.from('not an image')));
    c.send(frameMessage({ ...header, label: undefined }, jpeg(5)));
    c.send('{"text":"frames are binary"}');
    c.send(frameMessage({ label, key: 'cam', warnings_json: '', cone_polygons_json: '', pole_polygons_json: '' }, jpeg(6)));
    await c.until(() => c.texts.length === 9);
    expect(c.texts[0]).toEqual({ status: 'ok', message: 'Frame stored successfully.' });
    for (const t of c.texts.slice(1, 8)) expect(t).toMatchObject({ status: 'error', message: expect.any(String) });
    expect(c.texts[8]).toEqual({ status: 'ok', message: 'Frame stored successfully.' });
    expect(c.closed).toBeNull();
    const f = await svc.store.latest(label, 'cam');
    expect(seqOf(f!.frame).seq).toBe(6);
    expect(f).toMatchObject({ width: '0', height: '0' });
    c.close();
  });

  it('closes a producer socket with 1009 for a message over the size limit', async () => {
    const c = await connect(svc.url, '/ws/frames', admin);
    c.send(frameMessage({ label: uniqueLabel(), key: 'cam', ...defaultMeta }, jpeg(1, MAX + 2 * 1024 * 1024)));
    expect((await c.waitClose()).code).toBe(1009);
  });
});

describe('upload limits', () => {
  let svc: TestService;
  let admin: string;
  beforeAll(async () => {
    svc = await startService({ env: { MAX_CONCURRENT_UPLOADS: '1' } });
    admin = await svc.token('admin');
  });
  afterAll(async () => svc?.stop());

  it('answers 429 with Retry-After when too many uploads are being received at once, then recovers', async () => {
    const { request } = await import('node:http');
    const u = new URL(`${svc.url}/frames`);
    // A slow producer: headers sent, body still coming.
    const slow = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'multipart/form-data; boundary=b', 'content-length': '100000' } });
    slow.on('error', () => {});
    slow.write('--b\r\n');
    await new Promise((r) => setTimeout(r, 200));
    const label = uniqueLabel();
    const refused = await postFrame(svc.url, admin, { label, key: 'cam', ...defaultMeta }, jpeg(1));
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'RATE_LIMITED' });
    expect(refused.headers.get('retry-after')).toBe('1');
    slow.destroy();
    await new Promise((r) => setTimeout(r, 200));
    expect((await postFrame(svc.url, admin, { label, key: 'cam', ...defaultMeta }, jpeg(2))).status).toBe(200);
  });
});

describe('upload input, beyond single fields', () => {
  let svc: TestService;
  let admin: string;
  beforeAll(async () => {
    svc = await startService({ env: { MAX_FRAME_BYTES: String(MAX) } });
    admin = await svc.token('admin');
  });
  afterAll(async () => svc?.stop());

  it('reports every problem of an upload, in `detail` and as a list', async () => {
    const r = await postFrame(svc.url, admin, { ...defaultMeta, key: 'cam', width: 'wide', warnings_json: '{' }, Buffer.from('GIF89a'));
    expect(r.status).toBe(422);
    expect(r.body).toEqual({
      code: 'VALIDATION',
      detail: 'label is required; warnings_json is not valid JSON; width must be a non-negative integer; file is not an image (expected JPEG or PNG bytes)',
      errors: [
        { field: 'label', message: 'is required' },
        { field: 'warnings_json', message: 'is not valid JSON' },
        { field: 'width', message: 'must be a non-negative integer' },
        { field: 'file', message: 'is not an image (expected JPEG or PNG bytes)' },
      ],
    });
  });

  it('names every duplicated field', async () => {
    const label = uniqueLabel();
    const parts = uploadParts({ label, key: 'cam', ...defaultMeta });
    const m = multipart([...parts, { name: 'label', value: 'other' }, { name: 'width', value: '1' }]);
    const r = await postBody(svc.url, admin, m.body, m.contentType);
    expect(r.status).toBe(422);
    expect(r.body.errors).toEqual([{ field: 'label', message: 'is sent more than once' }, { field: 'width', message: 'is sent more than once' }]);
    expect(await svc.store.latest(label, 'cam')).toBeNull();
  });

  it('ignores unknown fields, as the old backend did, and stores text exactly as sent', async () => {
    const label = uniqueLabel('sité/ü');
    const key = 'cam \ufeff1';
    const m = multipart([...uploadParts({ label, key, ...defaultMeta, warnings_json: '["Warning: 安全帽"]' }), { name: 'extra', value: 'ignored' }, { name: 'extra', value: 'twice' }]);
    expect((await postBody(svc.url, admin, m.body, m.contentType)).status).toBe(200);
    expect(await svc.store.latest(label, key)).toMatchObject({ warnings: '["Warning: 安全帽"]' });
    // A label with a slash is watched with its slash percent-encoded.
    const c = await connect(svc.url, `/ws/labels/${encodeURIComponent(label)}`, admin);
    await c.until(() => c.frames.length === 1);
    expect(c.frames[0]!.header.key).toBe(key);
    c.close();
  });

  it('answers Expect: 100-continue with 100 only once the upload is admitted', async () => {
    const label = uniqueLabel();
    const m = multipart(uploadParts({ label, key: 'cam', ...defaultMeta }));
    const u = new URL(svc.url);
    const s = net.connect(Number(u.port), u.hostname);
    let got = '';
    s.on('data', (d) => (got += d));
    s.write(head('POST', '/frames', { authorization: `Bearer ${admin}`, expect: '100-continue', 'content-type': m.contentType, 'content-length': m.body.length }));
    await eventually(() => got.includes('100 Continue'), 3000, '100 Continue');
    expect(got.startsWith('HTTP/1.1 100 Continue\r\n\r\n')).toBe(true);
    s.write(m.body);
    await eventually(() => got.includes('Frame stored successfully.'), 3000, 'the reply');
    expect(got).toContain('HTTP/1.1 200 OK');
    s.destroy();
    expect(await svc.store.latest(label, 'cam')).not.toBeNull();
  });

  it('reads and drops the body of a refused upload, so the connection carries the next request', async () => {
    const u = new URL(svc.url);
    const s = net.connect(Number(u.port), u.hostname);
    let got = '';
    s.on('data', (d) => (got += d));
    const size = 3 * 1024 * 1024;
    s.write(head('POST', '/frames', { authorization: `Bearer ${admin}`, 'content-type': 'multipart/form-data; boundary=b', 'content-length': size }));
    s.write(Buffer.alloc(size, 0x61));
    await eventually(() => got.includes('PAYLOAD_TOO_LARGE'), 5000, 'the 413');
    s.write(head('GET', '/healthz'));
    await eventually(() => got.includes('{"status":"ok"}'), 5000, 'the next reply on the same connection');
    expect(got).toMatch(/^HTTP\/1\.1 413 /);
    s.destroy();
  });
});

describe('upload limits: per user, per address, lingering bounds and slow bodies', () => {
  let svc: TestService;
  let tokens: string[];
  beforeAll(async () => {
    svc = await startService({
      env: { MAX_CONCURRENT_UPLOADS: '8', MAX_UPLOADS_PER_USER: '1', MAX_UPLOADS_PER_ADDRESS: '2', UPLOAD_BODY_TIMEOUT_MS: '1500', LINGER_MS: '400', LINGER_MAX_BYTES: String(1024 * 1024) },
    });
    tokens = [await svc.token('admin'), await svc.token('cam-a', 'admin'), await svc.token('cam-b', 'admin')];
  });
  afterAll(async () => svc?.stop());

  /** An upload whose body never comes: it holds a slot until its body times out. */
  function trickle(token: string): { reply: Promise<{ status: number; body: any }>; stop(): void } {
    const u = new URL(`${svc.url}/frames`);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'multipart/form-data; boundary=b', 'content-length': '100000' } });
    req.on('error', () => {});
    req.write('--b\r\n');
    const reply = new Promise<{ status: number; body: any }>((resolve) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
    });
    return { reply, stop: () => req.destroy() };
  }

  it('bounds uploads in flight per user and per address (429 naming the limit), and times out a body that does not come (408)', async () => {
    const label = uniqueLabel();
    const first = trickle(tokens[1]!);
    await sleep(200);
    const sameUser = await postFrame(svc.url, tokens[1]!, { label, key: 'cam', ...defaultMeta }, jpeg(1));
    expect(sameUser.status).toBe(429);
    expect(sameUser.body).toMatchObject({ code: 'RATE_LIMITED', detail: expect.stringContaining('MAX_UPLOADS_PER_USER') });
    const second = trickle(tokens[2]!);
    await sleep(200);
    const sameAddress = await postFrame(svc.url, tokens[0]!, { label, key: 'cam', ...defaultMeta }, jpeg(2));
    expect(sameAddress.status).toBe(429);
    expect(sameAddress.body.detail).toContain('MAX_UPLOADS_PER_ADDRESS');
    const t0 = Date.now();
    expect(await first.reply).toEqual({ status: 408, body: { code: 'REQUEST_TIMEOUT', detail: expect.stringContaining('UPLOAD_BODY_TIMEOUT_MS') } });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await second.reply).status).toBe(408);
    // The slots are free again.
    expect((await postFrame(svc.url, tokens[1]!, { label, key: 'cam', ...defaultMeta }, jpeg(3))).status).toBe(200);
    first.stop();
    second.stop();
  });

  it('stops reading a refused body past LINGER_MAX_BYTES, and one that stalls after LINGER_MS', async () => {
    const big = await rawRequest(svc.url, head('POST', '/frames', { authorization: 'Bearer nope', 'content-type': 'multipart/form-data; boundary=b', 'content-length': 64 * 1024 * 1024 }), { thenBody: 64 * 1024 * 1024, timeoutMs: 10_000 });
    // Cut off mid-body: a client that writes its whole body before reading sees its connection reset.
    expect(big.error, JSON.stringify(big)).toMatch(/EPIPE|ECONNRESET/);
    const stalled = await rawRequest(svc.url, head('POST', '/frames', { authorization: 'Bearer nope', 'content-type': 'multipart/form-data; boundary=b', 'content-length': 1000 }), { awaitClose: true, timeoutMs: 3000 });
    expect(stalled.status).toBe(401);
    expect(stalled.closedByServer).toBe(true);
  });
});

describe('producer sockets at a shutdown', () => {
  it('are closed with 1001 having answered every frame stored, and storing none after', async () => {
    // A producer sends an unanswered frame again, to whichever instance it reaches next: a frame
    // stored but not answered would be shown twice.
    const svc = await startService({ store: 'redis' });
    try {
      const admin = await svc.token('admin');
      const label = uniqueLabel();
      const c = await connect(svc.url, '/ws/frames', admin);
      const restart = c.until(() => c.texts.length >= 2).then(() => svc.restart());
      const sent = await sendUntilClosed(c, label, 'cam');
      await restart;
      expect(c.closed).toEqual({ code: 1001, reason: 'Server shutting down' });
      const answered = c.texts.length;
      expect(c.texts).toEqual(Array.from({ length: answered }, () => ({ status: 'ok', message: 'Frame stored successfully.' })));
      expect(answered).toBeLessThan(sent);
      const latest = await svc.store.latest(label, 'cam');
      expect(seqOf(latest!.frame).seq).toBe(answered); // frames are stored in order: 1…answered and no more
    } finally {
      await svc.stop();
    }
  });
});
