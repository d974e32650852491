// rendition=preview: a downscaled JPEG under the frame's own header, made off the event loop, only
// while someone asks, once per frame and width whatever the number of viewers, no more often than
// the fastest viewer asks, skipped (never queued) when resizing falls behind; a frame that cannot
// be decoded passes through. Counted by the previews_* metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { startService, type TestService } from '../helpers/service.js';
import {
  connect, defaultMeta, frameMessage, jpeg, photoJpeg, postFrame, sleep, stampedMeta, stampOf, uniqueLabel, type Client,
} from '../helpers/frames.js';

/** A counter from GET /metrics. */
async function metric(svc: TestService, name: string): Promise<number> {
  const text = await (await fetch(`${svc.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`metric ${name} not found`);
  return Number(m[1]);
}

const previewCounts = async (svc: TestService) => ({
  made: await metric(svc, 'previews_made'),
  skipped: await metric(svc, 'previews_skipped'),
  passedThrough: await metric(svc, 'previews_passed_through'),
});

const seqs = (v: Client) => v.frames.map((f) => stampOf(f).seq);

describe('preview rendition', () => {
  let svc: TestService;
  let admin: string;
  let photo: Buffer;
  let big: Buffer;
  beforeAll(async () => {
    svc = await startService({ env: { PREVIEW_CONCURRENCY: '1' } });
    admin = await svc.token('admin');
    photo = await photoJpeg(640, 360);
    big = await photoJpeg(1280, 720, 2);
  });
  afterAll(async () => svc?.stop());

  const post = (label: string, seq: number, image = photo, size?: { width: string; height: string }) =>
    postFrame(svc.url, admin, { label, key: 'cam', ...stampedMeta(0, seq, size) }, image);

  it('makes no preview for a label nobody previews, and starts when a viewer asks', async () => {
    const label = uniqueLabel('nobody');
    const before = await previewCounts(svc);
    await post(label, 0);
    const full = await connect(svc.url, `/ws/labels/${label}`, admin);
    const capped = await connect(svc.url, `/ws/labels/${label}?max_fps=10`, admin);
    for (let s = 1; s <= 10; s++) await post(label, s);
    await full.until(() => full.frames.length === 11, 3000, 'full viewer');
    await capped.until(() => seqs(capped).at(-1) === 10, 3000, 'capped viewer');
    expect(await previewCounts(svc)).toEqual(before);
    const preview = await connect(svc.url, `/ws/labels/${label}?rendition=preview`, admin);
    await preview.until(() => preview.frames.length === 1, 3000, 'preview');
    expect((await previewCounts(svc)).made).toBe(before.made + 1);
    [full, capped, preview].forEach((v) => v.close());
  });

  it('sends a downscaled JPEG under the same header as the full frame', async () => {
    const label = uniqueLabel('header');
    await post(label, 1);
    const full = await connect(svc.url, `/ws/labels/${label}`, admin);
    const preview = await connect(svc.url, `/ws/labels/${label}?rendition=preview&preview_width=160`, admin);
    await full.until(() => full.frames.length === 1);
    await preview.until(() => preview.frames.length === 1);
    const [f, p] = [full.frames[0]!, preview.frames[0]!];
    expect(Object.keys(p.header)).toEqual(['key', 'warnings', 'cone_polygons', 'pole_polygons', 'detection_items', 'width', 'height']);
    expect(p.header).toEqual(f.header);
    expect(p.header).toMatchObject({ width: '640', height: '360', cone_polygons: defaultMeta.cone_polygons_json });
    expect(f.image.equals(photo)).toBe(true);
    const meta = await sharp(p.image).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 160, height: 90 });
    expect(p.image.length).toBeLessThan(photo.length / 4);
    full.close();
    preview.close();
  });

  it('makes each frame\'s preview once for many viewers, and sends them all the same bytes', async () => {
    const label = uniqueLabel('many');
    await post(label, 0);
    const before = await previewCounts(svc);
    const viewers: Client[] = [];
    for (let i = 0; i < 8; i++) viewers.push(await connect(svc.url, `/ws/labels/${label}?rendition=preview&preview_width=200`, admin));
    for (const v of viewers) await v.until(() => v.frames.length === 1, 3000, 'snapshot');
    for (let s = 1; s <= 5; s++) {
      await post(label, s);
      for (const v of viewers) await v.until(() => v.frames.length === s + 1, 3000, `frame ${s}`);
    }
    // The first viewer's snapshot, then one per frame: not one per viewer.
    expect((await previewCounts(svc)).made - before.made).toBe(6);
    for (const v of viewers) {
      expect(seqs(v)).toEqual([0, 1, 2, 3, 4, 5]);
      v.frames.forEach((f, i) => expect(f.raw.equals(viewers[0]!.frames[i]!.raw)).toBe(true));
    }
    viewers.forEach((v) => v.close());
  });

  it('resizes no more often than the fastest viewer of a width asks', async () => {
    const label = uniqueLabel('rate');
    await post(label, 0);
    const before = await previewCounts(svc);
    const twos: Client[] = [];
    for (let i = 0; i < 3; i++) twos.push(await connect(svc.url, `/ws/labels/${label}?rendition=preview&max_fps=2`, admin));
    const one = await connect(svc.url, `/ws/labels/${label}?rendition=preview&max_fps=1`, admin);
    const t0 = performance.now();
    let s = 0;
    while (performance.now() - t0 < 2000) {
      await post(label, ++s);
      await sleep(30);
    }
    const took = performance.now() - t0;
    for (const v of [...twos, one]) await v.until(() => seqs(v).at(-1) === s, 2000, 'newest preview');
    const made = (await previewCounts(svc)).made - before.made;
    expect(s).toBeGreaterThan(20);
    // Twice a second over the run, the snapshot, and the last frame.
    expect(made).toBeLessThanOrEqual(Math.ceil((took / 1000) * 2) + 2);
    expect(seqs(one).length).toBeLessThanOrEqual(Math.ceil(took / 1000) + 2);
    [...twos, one].forEach((v) => v.close());
  });

  it('skips frames, never queues them, when resizing falls behind', async () => {
    const label = uniqueLabel('behind');
    await post(label, 0, big, { width: '1280', height: '720' });
    const v = await connect(svc.url, `/ws/labels/${label}?rendition=preview`, admin);
    await v.until(() => v.frames.length === 1);
    const before = await previewCounts(svc);
    // 30 frames in one burst on one producer socket: they reach the hub far faster than one
    // resize at a time (PREVIEW_CONCURRENCY=1) can follow.
    const producer = await connect(svc.url, '/ws/frames', admin);
    for (let s = 1; s <= 30; s++) producer.send(frameMessage({ label, key: 'cam', ...stampedMeta(0, s, { width: '1280', height: '720' }) }, big));
    await producer.until(() => producer.texts.length === 30, 10_000, 'uploads');
    await v.until(() => seqs(v).at(-1) === 30, 5000, 'newest frame');
    await sleep(200);
    const after = await previewCounts(svc);
    const made = after.made - before.made;
    expect(after.skipped - before.skipped).toBeGreaterThan(0);
    expect(made).toBeLessThan(30);
    expect(made + (after.skipped - before.skipped)).toBeLessThanOrEqual(30);
    // Each frame the viewer got is newer than the one before it, and the last is the newest.
    const got = seqs(v);
    expect(got.length).toBe(1 + made);
    for (let i = 1; i < got.length; i++) expect(got[i]).toBeGreaterThan(got[i - 1]!);
    expect(svc.hub.previews.inProgress).toBe(0);
    producer.close();
    v.close();
  });

  it('passes a frame that cannot be decoded through as it is, and counts it', async () => {
    const label = uniqueLabel('broken');
    const before = await previewCounts(svc);
    const broken = jpeg(7, 4096); // a JPEG signature and nothing decodable
    await postFrame(svc.url, admin, { label, key: 'cam', ...defaultMeta }, broken);
    const v = await connect(svc.url, `/ws/labels/${label}?rendition=preview`, admin);
    await v.until(() => v.frames.length === 1);
    expect(v.frames[0]!.image.equals(broken)).toBe(true);
    expect(v.frames[0]!.header).toMatchObject({ width: defaultMeta.width, height: defaultMeta.height });
    expect((await previewCounts(svc)).passedThrough).toBe(before.passedThrough + 1);
    v.close();
  });

  it('names the original\'s size in the header when the producer left it unknown', async () => {
    const label = uniqueLabel('nosize');
    await post(label, 1, photo, { width: '0', height: '0' });
    const full = await connect(svc.url, `/ws/labels/${label}`, admin);
    const v = await connect(svc.url, `/ws/labels/${label}?rendition=preview&preview_width=100`, admin);
    await full.until(() => full.frames.length === 1);
    await v.until(() => v.frames.length === 1);
    expect(full.frames[0]!.header).toMatchObject({ width: '0', height: '0' });
    expect(v.frames[0]!.header).toMatchObject({ width: '640', height: '360' });
    expect((await sharp(v.frames[0]!.image).metadata()).width).toBe(100);
    full.close();
    v.close();
  });

  it('answers pull sockets with previews', async () => {
    const label = uniqueLabel('pull');
    await post(label, 3);
    const v = await connect(svc.url, `/ws/stream/${label}/cam?rendition=preview&preview_width=120&max_fps=5`, admin);
    v.send('{"action":"pull"}');
    await v.until(() => v.frames.length === 1);
    const f = v.frames[0]!;
    expect(Object.keys(f.header)[0]).toBe('id');
    expect(stampOf(f).seq).toBe(3);
    expect((await sharp(f.image).metadata()).width).toBe(120);
    // Nothing newer: the next pull waits for the next frame.
    v.send('{"action":"pull"}');
    await sleep(100);
    expect(v.frames.length).toBe(1);
    await post(label, 4);
    await v.until(() => v.frames.length === 2);
    expect(stampOf(v.frames[1]!).seq).toBe(4);
    v.close();
  });
});
