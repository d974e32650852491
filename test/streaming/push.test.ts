// Push viewers (WS /ws/labels/{label}) on both frame stores: newest frame of every camera on connect,
// then every new frame exactly once, as it arrives, including cameras that start later.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainRedis, startService, STORES, type TestService } from '../helpers/service.js';
import { connect, defaultMeta, jpeg, postFrame, seqOf, sleep, uniqueLabel, type Client } from '../helpers/frames.js';
import { streamKey } from '../../src/frames/keys.js';

describe.each(STORES)('push viewers, %s store', (store) => {
  let svc: TestService;
  let admin: string;
  beforeAll(async () => {
    svc = await startService({ store });
    admin = await svc.token('admin');
  });
  afterAll(async () => svc?.stop());

  const post = (label: string, key: string, seq: number, cam = 0) =>
    postFrame(svc.url, admin, { label, key, ...defaultMeta }, jpeg(seq, 256, cam));

  it('with ?wait=true keeps a label without cameras open and sends its cameras as they start', async () => {
    const label = uniqueLabel('waiting');
    const v = await connect(svc.url, `/ws/labels/${encodeURIComponent(label)}?wait=true`, admin);
    await sleep(300);
    expect(v.closed).toBeNull();
    expect(v.texts).toEqual([]);
    await post(label, 'first-cam', 3, 1);
    await v.until(() => v.frames.length === 1, 3000, 'first camera');
    expect(v.frames[0]!.header.key).toBe('first-cam');
    expect(seqOf(v.frames[0]!.image)).toEqual({ cam: 1, seq: 3 });
    v.close();
  });

  it('with ?with_id=true adds the entry id after the compatible header fields (capped viewers too), others keep the old header', async () => {
    const label = uniqueLabel();
    await post(label, 'cam', 1);
    const plain = await connect(svc.url, `/ws/labels/${encodeURIComponent(label)}`, admin);
    const before = Date.now();
    const withId = await connect(svc.url, `/ws/labels/${encodeURIComponent(label)}?with_id=true&wait=false`, admin);
    const capped = await connect(svc.url, `/ws/labels/${encodeURIComponent(label)}?with_id=true&max_fps=30`, admin);
    await withId.until(() => withId.frames.length === 1);
    await capped.until(() => capped.frames.length === 1);
    await post(label, 'cam', 2);
    await withId.until(() => withId.frames.length === 2);
    await plain.until(() => plain.frames.length === 2);
    await capped.until(() => capped.frames.length === 2);
    for (const f of [...withId.frames, ...capped.frames]) {
      expect(Object.keys(f.header)).toEqual(['key', 'warnings', 'cone_polygons', 'pole_polygons', 'detection_items', 'width', 'height', 'id']);
      expect(f.header.id).toMatch(/^\d+-\d+$/);
    }
    const ms = Number(withId.frames[1]!.header.id.split('-')[0]);
    expect(ms).toBeGreaterThanOrEqual(before - 1000);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1000);
    expect(Object.keys(plain.frames[1]!.header)).not.toContain('id');
    expect(seqOf(plain.frames[1]!.image).seq).toBe(2);
    for (const c of [plain, withId, capped]) c.close();
  });

  it('serves labels and keys as long as uploads allow (200 and 256 characters, not ASCII)', async () => {
    const label = `${uniqueLabel()}-${'工地'.repeat(100)}`.slice(0, 200);
    const key = '攝影機'.repeat(85);
    expect((await post(label, key, 1)).status).toBe(200);
    const v = await connect(svc.url, `/ws/labels/${encodeURIComponent(label)}`, admin);
    await v.until(() => v.frames.length === 1);
    expect(v.frames[0]!.header.key).toBe(key);
    const p = await connect(svc.url, `/ws/stream/${encodeURIComponent(label)}/${encodeURIComponent(key)}`, admin);
    p.send('{"action":"pull"}');
    await p.until(() => p.frames.length === 1);
    v.close();
    p.close();
  });

  it('sends the newest frame of every camera on connect, then each new frame exactly once', async () => {
    const label = uniqueLabel();
    for (let s = 1; s <= 3; s++) {
      expect((await post(label, 'cam-a', s, 0)).status).toBe(200);
      expect((await post(label, 'cam-b', s, 1)).status).toBe(200);
    }
    const v = await connect(svc.url, `/ws/labels/${encodeURIComponent(label)}`, admin);
    await v.until(() => v.frames.length >= 2, 3000, 'snapshot');
    await sleep(100);
    expect(v.frames.map((f) => [f.header.key, seqOf(f.image).seq]).sort()).toEqual([['cam-a', 3], ['cam-b', 3]]);
    const h = v.frames[0]!.header;
    expect(Object.keys(h)).toEqual(['key', 'warnings', 'cone_polygons', 'pole_polygons', 'detection_items', 'width', 'height']);
    expect(h).toMatchObject({ warnings: defaultMeta.warnings_json, cone_polygons: defaultMeta.cone_polygons_json, width: '64', height: '48' });

    // 60 more frames over two cameras: every one arrives once, in order per camera.
    for (let s = 4; s < 34; s++) {
      await post(label, 'cam-a', s, 0);
      await post(label, 'cam-b', s, 1);
    }
    await v.until(() => v.frames.length >= 62, 5000, 'all frames');
    await sleep(200);
    for (const cam of ['cam-a', 'cam-b']) {
      const seqs = v.frames.filter((f) => f.header.key === cam).map((f) => seqOf(f.image).seq);
      expect(seqs).toEqual(Array.from({ length: 31 }, (_, i) => i + 3)); // no duplicate, no gap
    }
    v.close();
  });

  it('delivers a camera that starts after the viewer connected', async () => {
    const label = uniqueLabel();
    await post(label, 'first', 1);
    const v = await connect(svc.url, `/ws/labels/${encodeURIComponent(label)}`, admin);
    await v.until(() => v.frames.length === 1);
    await post(label, 'late-camera', 7, 2);
    await v.until(() => v.frames.some((f) => f.header.key === 'late-camera'), 3000, 'late camera');
    expect(seqOf(v.frames.at(-1)!.image)).toEqual({ cam: 2, seq: 7 });
    v.close();
  });

  it('pushes as frames arrive, without a polling interval', async () => {
    const label = uniqueLabel();
    await post(label, 'cam', 1);
    const v = await connect(svc.url, `/ws/labels/${encodeURIComponent(label)}`, admin);
    await v.until(() => v.frames.length === 1);
    const lat: number[] = [];
    for (let s = 2; s < 22; s++) {
      const t = performance.now();
      await post(label, 'cam', s);
      await v.until(() => v.frames.length === s, 2000);
      lat.push(performance.now() - t);
    }
    lat.sort((a, b) => a - b);
    // Behaviour, not speed: a 100 ms poll would put the median near 50 ms.
    expect(lat[10]).toBeLessThan(40);
    v.close();
  });

  it('says "No keys found" and closes 1000 for a label without cameras', async () => {
    const label = uniqueLabel('empty');
    const v = await connect(svc.url, `/ws/labels/${encodeURIComponent(label)}`, admin);
    const closed = await v.waitClose();
    expect(v.texts).toEqual([{ error: `No keys found for label '${label}'` }]);
    expect(closed.code).toBe(1000);
  });

  it('handles labels and keys with spaces, slashes and non-ASCII characters', async () => {
    const label = `工地 ${uniqueLabel()}/A`;
    await postFrame(svc.url, admin, { label, key: 'cam/1 東', ...defaultMeta }, jpeg(5));
    const v = await connect(svc.url, `/ws/labels/${encodeURIComponent(label)}`, admin);
    await v.until(() => v.frames.length === 1);
    expect(v.frames[0]!.header.key).toBe('cam/1 東');
    const labels = await (await fetch(`${svc.url}/labels`, { headers: { authorization: `Bearer ${admin}` } })).json();
    expect(labels.labels).toContain(label);
    v.close();
  });

  it('serves many viewers of one label from one subscription, each exactly once', async () => {
    const label = uniqueLabel();
    await post(label, 'cam', 0);
    const viewers: Client[] = [];
    for (let i = 0; i < 20; i++) viewers.push(await connect(svc.url, `/ws/labels/${encodeURIComponent(label)}`, admin, i % 2 ? 'header' : 'query'));
    for (const v of viewers) await v.until(() => v.frames.length === 1);
    for (let s = 1; s <= 20; s++) await post(label, 'cam', s);
    for (const v of viewers) {
      await v.until(() => v.frames.length === 21, 5000);
      expect(v.frames.map((f) => seqOf(f.image).seq)).toEqual(Array.from({ length: 21 }, (_, i) => i));
    }
    // Every viewer was sent the very same bytes.
    expect(viewers.every((v) => v.frames[5]!.raw.equals(viewers[0]!.frames[5]!.raw))).toBe(true);
    viewers.forEach((v) => v.close());
  });

  if (store !== 'memory') {
    it('delivers frames that another writer XADDs in the old layout within 2 s', async () => {
      const label = uniqueLabel('legacy');
      const redis = plainRedis(store);
      try {
        const xadd = (key: string, seq: number) =>
          redis.xadd(streamKey(label, key), 'MAXLEN', '~', '10', '*', 'frame', jpeg(seq), 'warnings', '["Warning: Someone is not wearing a hardhat!"]',
            'cone_polygons', '[]', 'pole_polygons', '[]', 'detection_items', '[]', 'width', '640', 'height', '480');
        await xadd('old-cam', 1);
        // Discovered by the background scan (2 s interval), not by this process's own writes.
        const t0 = Date.now();
        let v: Client | null = null;
        while (!v) {
          const c = await connect(svc.url, `/ws/labels/${encodeURIComponent(label)}`, admin);
          await c.until(() => c.frames.length > 0 || c.closed !== null, 3000);
          if (c.frames.length > 0) v = c;
          else if (Date.now() - t0 > 4000) throw new Error('stream written by another writer not found');
          else await sleep(200);
        }
        expect(v.frames[0]!.header).toMatchObject({ key: 'old-cam', warnings: '["Warning: Someone is not wearing a hardhat!"]', width: '640' });
        const t1 = Date.now();
        await xadd('old-cam', 2);
        await v.until(() => v.frames.length === 2, 2000, 'existing camera');
        await xadd('another-old-cam', 3);
        await v.until(() => v.frames.length === 3, 4000, 'new camera from another writer');
        expect(v.frames.map((f) => seqOf(f.image).seq)).toEqual([1, 2, 3]);
        expect(Date.now() - t1).toBeLessThan(4000);
        v.close();
      } finally {
        await Promise.all([redis.del(streamKey(label, 'old-cam')), redis.del(streamKey(label, 'another-old-cam'))]);
        redis.disconnect();
      }
    });

    it('stores frames in the old layout, readable with plain XREVRANGE', async () => {
      const label = uniqueLabel('layout');
      const key = streamKey(label, 'cam 1');
      const redis = plainRedis(store);
      try {
        const image = jpeg(42, 300);
        const r = await postFrame(svc.url, admin, { label, key: 'cam 1', warnings_json: '{"warning_no_hardhat":{"count":1}}', cone_polygons_json: '[[[1,2],[3,4],[5,6]]]', pole_polygons_json: '', detection_items_json: '[]', width: '640', height: '480' }, image);
        expect(r.status).toBe(200);
        expect(r.body).toEqual({ status: 'ok', message: 'Frame stored successfully.' });
        const [entry] = await redis.xrevrangeBuffer(key, '+', '-', 'COUNT', 1);
        const kv = entry![1];
        expect(kv.filter((_, i) => i % 2 === 0).map(String)).toEqual(['frame', 'warnings', 'cone_polygons', 'pole_polygons', 'detection_items', 'width', 'height']);
        expect(kv[1]!.equals(image)).toBe(true);
        expect(kv.filter((_, i) => i % 2 === 1).slice(1).map(String)).toEqual(['{"warning_no_hardhat":{"count":1}}', '[[[1,2],[3,4],[5,6]]]', '', '[]', '640', '480']);
        // Trimmed with MAXLEN ~ 10: Redis trims whole nodes, so "about 10" is bounded by a node (100).
        for (let s = 0; s < 250; s++) await post(label, 'cam 1', s);
        expect(await redis.xlen(key)).toBeLessThanOrEqual(110);
      } finally {
        await redis.del(key);
        redis.disconnect();
      }
    });
  }
});
