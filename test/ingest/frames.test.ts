// Uploads (POST /frames, WS /ws/frames): good frames are stored; every kind of bad input gets a clear
// 4xx error (or an error message on the socket) and stores nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, STORES, type TestService } from '../helpers/service.js';
import { connect, defaultMeta, frameMessage, jpeg, postFrame, seqOf, uniqueLabel } from '../helpers/frames.js';

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
