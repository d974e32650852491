// The Redis Streams frame store against the real Redis on 127.0.0.1:6379. Every test uses labels of
// its own and deletes the keys it made; "foreign" writes are plain XADDs, as the old backend made them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { FrameFields, StoredFrame } from '../../src/frames/frame.js';
import { compareIds, streamKey } from '../../src/frames/keys.js';
import { RedisFrameStore, type RedisFrameStoreOptions } from '../../src/frames/redis-store.js';
import {
  image,
  imageSeq,
  memoryLog,
  sharedRedis,
  SHARED_REDIS_URL,
  sleep,
  uniqueLabel,
  waitFor,
  openRedisStore,
} from '../helpers/redis-server.js';

let plain: Redis;
const stores: RedisFrameStore[] = [];
const labelsUsed: string[] = [];

beforeAll(async () => {
  plain = await sharedRedis();
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  // Delete every stream of the labels these tests used (and the odd keys some tests made).
  const prefixes = labelsUsed.map((l) => streamKey(l, 'x').split('|')[0] + '|');
  let cursor = '0';
  do {
    const [next, keys] = await plain.scan(cursor, 'MATCH', 'stream_frame:*', 'COUNT', 1000);
    cursor = next;
    const mine = keys.filter((k) => prefixes.some((p) => k.startsWith(p)) || oddKeys.includes(k));
    if (mine.length) await plain.del(...mine);
  } while (cursor !== '0');
  plain?.disconnect();
});

const oddKeys: string[] = [];

function label(prefix = 'site'): string {
  const l = uniqueLabel(prefix);
  labelsUsed.push(l);
  return l;
}

async function open(opts: Partial<RedisFrameStoreOptions> = {}): Promise<RedisFrameStore> {
  const store = await openRedisStore({
    url: SHARED_REDIS_URL,
    maxLen: 10,
    scanIntervalMs: 1000,
    idleMs: 3600_000,
    log: memoryLog(),
    ...opts,
  });
  stores.push(store);
  return store;
}

function fields(cam: number, seq: number): FrameFields {
  return {
    frame: image(cam, seq),
    warnings: `{"warning_no_hardhat":{"count":${seq}}}`,
    conePolygons: '[[[10,10],[60,10],[60,40]]]',
    polePolygons: '[]',
    detectionItems: `[[1,2,30,40,0.9,${cam}]]`,
    width: '640',
    height: '480',
  };
}

/** The arguments of an XADD exactly as the old Python backend made it (redis-py xadd with maxlen=10, approximate). */
function oldBackendXadd(l: string, key: string, cam: number, seq: number): [string, ...Array<string | number | Buffer>] {
  const f = fields(cam, seq);
  return [streamKey(l, key), 'MAXLEN', '~', 10, '*',
    'frame', f.frame, 'warnings', f.warnings, 'cone_polygons', f.conePolygons, 'pole_polygons', f.polePolygons,
    'detection_items', f.detectionItems, 'width', f.width, 'height', f.height];
}

function foreignXadd(l: string, key: string, cam: number, seq: number): Promise<string | null> {
  return plain.xadd(...oldBackendXadd(l, key, cam, seq));
}

/** Python's base64.urlsafe_b64encode, written independently of keys.ts. */
function pyUrlsafeB64(s: string): string {
  const b = Buffer.from(s, 'utf8').toString('base64url');
  return b + '='.repeat((4 - (b.length % 4)) % 4);
}

/** Collects what a listener is given, per camera key. */
function collector() {
  const got: StoredFrame[] = [];
  const listener = (f: StoredFrame) => void got.push(f);
  const seqs = (key: string) => got.filter((f) => f.key === key).map((f) => imageSeq(f.frame).seq);
  return { got, listener, seqs };
}

describe('RedisFrameStore: layout', () => {
  it('names streams exactly as the old backend did', () => {
    expect(streamKey('site A', 'cam/1')).toBe('stream_frame:c2l0ZSBB|Y2FtLzE=');
    // "?>>" is "Pz4+" in standard base64: URL-safe turns "+" into "-".
    expect(streamKey('工地', 'cam?>>')).toBe('stream_frame:5bel5Zyw|Y2FtPz4-');
  });

  it('appends with XADD in the exact old field layout, readable by a plain client', async () => {
    const store = await open();
    for (const [l, key] of [[label('site A'), 'cam/1'], [label('工地 東'), 'カメラ?>>1']] as const) {
      const id = await store.append(l, key, fields(3, 7));
      const redisKey = `stream_frame:${pyUrlsafeB64(l)}|${pyUrlsafeB64(key)}`;
      expect(await plain.type(redisKey)).toBe('stream');
      const [[entryId, raw]] = await plain.xrevrangeBuffer(redisKey, '+', '-', 'COUNT', 1);
      expect(entryId.toString()).toBe(id);
      const names = raw.filter((_, i) => i % 2 === 0).map((b) => b.toString());
      expect(names).toEqual(['frame', 'warnings', 'cone_polygons', 'pole_polygons', 'detection_items', 'width', 'height']);
      const value = (n: string) => raw[raw.findIndex((b, i) => i % 2 === 0 && b.toString() === n) + 1]!;
      expect(value('frame').equals(image(3, 7))).toBe(true);
      expect(value('warnings').toString()).toBe('{"warning_no_hardhat":{"count":7}}');
      expect(value('cone_polygons').toString()).toBe('[[[10,10],[60,10],[60,40]]]');
      expect(value('pole_polygons').toString()).toBe('[]');
      expect(value('detection_items').toString()).toBe('[[1,2,30,40,0.9,3]]');
      expect(value('width').toString()).toBe('640');
      expect(value('height').toString()).toBe('480');

      const latest = await store.latest(l, key);
      expect(latest).toMatchObject({ label: l, key, id, width: '640', height: '480', polePolygons: '[]' });
      expect(latest!.frame.equals(image(3, 7))).toBe(true);
    }
    expect(await store.latest(label(), 'nothing')).toBeNull();
  });

  it('trims streams to about maxLen entries (MAXLEN ~, as the old backend)', async () => {
    const store = await open({ maxLen: 10 });
    const l = label();
    for (let i = 0; i < 250; i++) await store.append(l, 'cam', fields(0, i));
    const len = await plain.xlen(streamKey(l, 'cam'));
    // "~" lets Redis trim whole radix-tree nodes only (stream-node-max-entries, 100 by default).
    expect(len).toBeGreaterThanOrEqual(10);
    expect(len).toBeLessThanOrEqual(10 + 100);
  });
});

describe('RedisFrameStore: subscriptions', () => {
  it('delivers frames of another writer, for a known and for a brand-new camera, within 2 s', async () => {
    const l = label();
    await foreignXadd(l, 'old-cam', 0, 0);
    const store = await open({ scanIntervalMs: 1000 });
    const c = collector();
    const sub = await store.subscribe(l, c.listener);
    expect(sub.snapshot.map((f) => [f.key, imageSeq(f.frame).seq])).toEqual([['old-cam', 0]]);

    await foreignXadd(l, 'old-cam', 0, 1);
    const known = await waitFor('a frame of a known camera', () => c.seqs('old-cam').length === 1, 2000);

    await foreignXadd(l, 'new-cam', 1, 0);
    const fresh = await waitFor('the first frame of a new camera', () => c.seqs('new-cam').length === 1, 2000);
    await foreignXadd(l, 'new-cam', 1, 1);
    await waitFor('the next frame of the new camera', () => c.seqs('new-cam').length === 2, 2000);

    expect(c.seqs('old-cam')).toEqual([1]);
    expect(c.seqs('new-cam')).toEqual([0, 1]);
    expect(c.got[0]).toMatchObject({ label: l, key: 'old-cam', warnings: '{"warning_no_hardhat":{"count":1}}', width: '640' });
    expect(known).toBeLessThan(2000);
    expect(fresh).toBeLessThan(2000);
    expect(await store.keys(l)).toEqual(['new-cam', 'old-cam']);
  });

  it('gives a snapshot, then 200 frames over 3 cameras exactly once, in order', async () => {
    const l = label();
    // Streams long enough to hold all 200: with maxLen 10, a reader that a loaded machine holds back
    // by more than ~10 entries of a camera rightly skips the trimmed ones (a live view wants the
    // newest frame), which is not what this test is about.
    const writer = await open({ maxLen: 1000 }); // another instance: its frames reach `store` through XREAD only
    for (let cam = 0; cam < 3; cam++) await writer.append(l, `cam${cam}`, fields(cam, 0));
    const store = await open({ maxLen: 1000 });
    const c = collector();
    const sub = await store.subscribe(l, c.listener);
    expect(sub.snapshot.map((f) => f.key).sort()).toEqual(['cam0', 'cam1', 'cam2']);
    expect(sub.snapshot.every((f) => imageSeq(f.frame).seq === 0)).toBe(true);

    const appends: Promise<string>[] = [];
    for (let i = 1; i <= 200; i++) {
      const cam = i % 3;
      appends.push(writer.append(l, `cam${cam}`, fields(cam, i)));
      if (i % 20 === 0) await Promise.all(appends.splice(0)); // bursts, as several producers would
    }
    await waitFor('200 frames', () => c.got.length >= 200, 5000);
    await sleep(500); // room for a duplicate to show up
    expect(c.got.length).toBe(200);
    for (let cam = 0; cam < 3; cam++) {
      const want = Array.from({ length: 200 }, (_, j) => j + 1).filter((i) => i % 3 === cam);
      expect(c.seqs(`cam${cam}`)).toEqual(want);
    }
    // Entry ids rise per camera.
    for (let cam = 0; cam < 3; cam++) {
      const ids = c.got.filter((f) => f.key === `cam${cam}`).map((f) => f.id);
      expect([...ids].sort(compareIds)).toEqual(ids);
    }
  });

  it('gives two subscribers of a label every frame once each; the second snapshot comes from memory', async () => {
    const l = label();
    const writer = await open({ maxLen: 1000 }); // holds all 50 (see above)
    await writer.append(l, 'cam', fields(0, 0));
    const store = await open();
    const a = collector();
    const b = collector();
    const subA = await store.subscribe(l, a.listener);
    const subB = await store.subscribe(l, b.listener);
    expect(subB.snapshot.map((f) => f.id)).toEqual(subA.snapshot.map((f) => f.id));
    for (let i = 1; i <= 50; i++) await writer.append(l, 'cam', fields(0, i));
    await waitFor('50 frames each', () => a.got.length >= 50 && b.got.length >= 50, 5000);
    await sleep(300);
    const want = Array.from({ length: 50 }, (_, j) => j + 1);
    expect(a.seqs('cam')).toEqual(want);
    expect(b.seqs('cam')).toEqual(want);
  });

  it('delivers its own appends once (local delivery, not again by the reader)', async () => {
    const l = label();
    const store = await open({ blockMs: 1000 });
    const c = collector();
    const sub = await store.subscribe(l, c.listener);
    expect(sub.snapshot).toEqual([]);
    for (let i = 0; i < 100; i++) {
      const id = await store.append(l, `cam${i % 2}`, fields(i % 2, i));
      // Delivered before append resolves: the lowest latency.
      expect(c.got.at(-1)?.id).toBe(id);
    }
    await sleep(1500); // longer than BLOCK: the reader has read these entries by now
    expect(c.got.length).toBe(100);
    expect(c.seqs('cam0')).toEqual(Array.from({ length: 50 }, (_, j) => 2 * j));
    expect(c.seqs('cam1')).toEqual(Array.from({ length: 50 }, (_, j) => 2 * j + 1));
    expect((await store.latest(l, 'cam1'))!.id).toBe(c.got.at(-1)!.id);
  });

  it('stops delivering after unsubscribe, and keeps going when a listener throws', async () => {
    const l = label();
    const log = memoryLog();
    const store = await open({ log });
    const c = collector();
    const bad = await store.subscribe(l, () => {
      throw new Error('listener bug');
    });
    const sub = await store.subscribe(l, c.listener);
    await foreignXadd(l, 'cam', 0, 1);
    await waitFor('a foreign frame', () => c.got.length === 1, 2000);
    await store.append(l, 'cam', fields(0, 2));
    expect(c.got.length).toBe(2);
    expect(log.lines.some((x) => x.level === 'error' && x.msg.includes('listener failed'))).toBe(true);
    bad.unsubscribe();
    sub.unsubscribe();
    sub.unsubscribe(); // twice is harmless
    await foreignXadd(l, 'cam', 0, 3);
    await store.append(l, 'cam', fields(0, 4));
    await sleep(1500);
    expect(c.seqs('cam')).toEqual([1, 2]);
    // A new subscription starts from a fresh snapshot.
    const again = await store.subscribe(l, () => {});
    expect(again.snapshot.map((f) => imageSeq(f.frame).seq)).toEqual([4]);
  });

  it('adds a newly watched stream to a blocked XREAD at once (CLIENT UNBLOCK)', async () => {
    const a = label();
    const b = label();
    await foreignXadd(a, 'cam', 0, 0);
    await foreignXadd(b, 'cam', 1, 0);
    const store = await open({ blockMs: 5000 });
    await store.subscribe(a, () => {});
    await sleep(200); // the reader is blocked on label a's stream for up to 5 s
    const c = collector();
    await store.subscribe(b, c.listener);
    await sleep(50);
    const t = Date.now();
    await foreignXadd(b, 'cam', 1, 1);
    await waitFor('a frame of the new stream', () => c.got.length === 1, 1000);
    expect(Date.now() - t).toBeLessThan(500);
  });

  it('keeps order and never repeats a frame when this process and another write the same camera', async () => {
    const l = label();
    await foreignXadd(l, 'cam', 0, 0);
    const store = await open();
    const c = collector();
    await store.subscribe(l, c.listener);
    const local: string[] = [];
    for (let i = 1; i <= 60; i++) {
      if (i % 2) await foreignXadd(l, 'cam', 0, i);
      else local.push(await store.append(l, 'cam', fields(0, i)));
    }
    const [[newest]] = await plain.xrevrange(streamKey(l, 'cam'), '+', '-', 'COUNT', 1);
    await waitFor('the newest frame', () => c.got.at(-1)?.id === newest, 2000);
    await sleep(300);
    const seqs = c.seqs('cam');
    // Ids rise strictly (in order, nothing twice) and every local frame is there. A foreign entry
    // that a local one overtook before the reader saw it is skipped: viewers want the newest frame.
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
    const ids = c.got.map((f) => f.id);
    for (const id of local) expect(ids).toContain(id);
  });

  it('skips what MAXLEN trimmed before its reader came back, in order and never twice, up to the newest', async () => {
    const l = label();
    await foreignXadd(l, 'cam', 0, 0);
    const store = await open();
    const c = collector();
    await store.subscribe(l, c.listener);
    // 80 XADDs in one pipeline: Redis runs them all (trimming to about 10) before the reader's
    // next XREAD arrives, so most entries are gone by the time it asks.
    const burst = plain.pipeline();
    for (let i = 1; i <= 80; i++) burst.xadd(...oldBackendXadd(l, 'cam', 0, i));
    await burst.exec();
    await waitFor('the newest frame', () => c.seqs('cam').at(-1) === 80, 2000);
    await sleep(300);
    const seqs = c.seqs('cam');
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
    expect(seqs.length).toBeLessThan(80);
  });
});

describe('RedisFrameStore: labels and keys', () => {
  it('lists this process\'s streams at once and other writers\' within the scan interval', async () => {
    const mine = label();
    const theirs = label();
    const store = await open({ scanIntervalMs: 1000 });
    await store.append(mine, 'cam/2', fields(0, 0));
    await store.append(mine, 'cam/1', fields(0, 0));
    expect(await store.keys(mine)).toEqual(['cam/1', 'cam/2']);
    expect(await store.labels()).toContain(mine);

    // Keys outside the layout, or not streams, are ignored.
    const notLayout = `stream_frame:${uniqueLabel('odd')}`;
    const notStream = streamKey(theirs, 'a-string');
    oddKeys.push(notLayout, notStream);
    await plain.xadd(notLayout, '*', 'frame', 'x');
    await plain.set(notStream, 'x');

    await foreignXadd(theirs, 'cam', 0, 0);
    const took = await waitFor('a foreign stream listed', async () => (await store.labels()).includes(theirs), 2500);
    expect(took).toBeLessThan(2500);
    expect(await store.keys(theirs)).toEqual(['cam']);

    // A deleted stream leaves the index after a sweep.
    await plain.del(streamKey(theirs, 'cam'));
    await waitFor('a deleted stream gone', async () => !(await store.labels()).includes(theirs), 2500);
    expect(await store.keys(theirs)).toEqual([]);
  });

  it('drops idle cameras (after checking them once) and brings them back on a new frame', async () => {
    const l = label();
    const store = await open({ scanIntervalMs: 1000, idleMs: 1500 });
    await foreignXadd(l, 'quiet', 0, 0);
    await waitFor('foreign stream found', async () => (await store.keys(l)).includes('quiet'), 2500);
    // A camera that keeps sending stays listed.
    const busy = setInterval(() => void foreignXadd(l, 'busy', 1, 0), 300);
    try {
      await waitFor('idle camera dropped', async () => !(await store.keys(l)).includes('quiet'), 5000);
      expect(await store.keys(l)).toEqual(['busy']);
    } finally {
      clearInterval(busy);
    }
    await store.append(l, 'quiet', fields(0, 1));
    expect(await store.keys(l)).toEqual(['busy', 'quiet']);
  });

  it('lists an idle camera again when another writer brings it back', async () => {
    const l = label();
    const store = await open({ scanIntervalMs: 1000, idleMs: 1200, idleRecheckMs: 1000 });
    await foreignXadd(l, 'cam', 0, 0);
    await waitFor('stream found', async () => (await store.keys(l)).includes('cam'), 2500);
    await waitFor('idle camera dropped', async () => !(await store.keys(l)).includes('cam'), 5000);
    await foreignXadd(l, 'cam', 0, 1);
    await waitFor('camera back', async () => (await store.keys(l)).includes('cam'), 3500);
  });
});

describe('RedisFrameStore: lifecycle', () => {
  it('closes promptly while its reader is blocked, and then refuses work', async () => {
    const store = await openRedisStore({
      url: SHARED_REDIS_URL, maxLen: 10, scanIntervalMs: 1000, idleMs: 60_000, log: memoryLog(), blockMs: 5000,
    });
    await store.subscribe(label(), () => {});
    await sleep(100); // the reader is now inside XREAD BLOCK 5000
    const t = Date.now();
    await store.close();
    expect(Date.now() - t).toBeLessThan(1000);
    await expect(store.append(label(), 'cam', fields(0, 0))).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(store.labels()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', statusCode: 503 });
  });

  it('refuses to open when Redis is not reachable, with a clear error', async () => {
    const t = Date.now();
    await expect(
      openRedisStore({
        url: 'redis://127.0.0.1:1', maxLen: 10, scanIntervalMs: 1000, idleMs: 60_000, log: memoryLog(), connectTimeoutMs: 1000,
      }),
    ).rejects.toThrow(/Redis at redis:\/\/127\.0\.0\.1:1.* is not reachable/);
    expect(Date.now() - t).toBeLessThan(2500);
  });
});
