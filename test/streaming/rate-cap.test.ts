// max_fps: each camera at most N times a second to that viewer, always the newest frame, and the
// last frame of a burst within 1/N s; viewers without it still get every frame. Push and pull.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, STORES, type TestService } from '../helpers/service.js';
import { connect, defaultMeta, jpeg, postFrame, seqOf, sleep, uniqueLabel, type Client } from '../helpers/frames.js';

const seqs = (v: Client, cam: number) => v.frames.filter((f) => seqOf(f.image).cam === cam).map((f) => seqOf(f.image).seq);

describe.each(STORES)('rate cap, %s store', (store) => {
  let svc: TestService;
  let admin: string;
  beforeAll(async () => {
    svc = await startService({ store });
    admin = await svc.token('admin');
  });
  afterAll(async () => svc?.stop());

  const post = (label: string, cam: number, seq: number) =>
    postFrame(svc.url, admin, { label, key: `cam-${cam}`, ...defaultMeta }, jpeg(seq, 256, cam));

  /** Posts `count` frames of each camera as fast as the server takes them; resolves with the time taken. */
  async function burst(label: string, cams: number[], from: number, count: number): Promise<number> {
    const t0 = performance.now();
    for (let s = from; s < from + count; s++) await Promise.all(cams.map((c) => post(label, c, s)));
    return performance.now() - t0;
  }

  it('sends each camera at most max_fps times a second, newest first, never twice or backwards', async () => {
    const label = uniqueLabel('cap');
    await Promise.all([post(label, 0, 0), post(label, 1, 0)]);
    const capped = await connect(svc.url, `/ws/labels/${label}?max_fps=4`, admin);
    const full = await connect(svc.url, `/ws/labels/${label}`, admin);
    await capped.until(() => capped.frames.length === 2, 3000, 'snapshot');
    await full.until(() => full.frames.length === 2, 3000, 'snapshot');
    const took = await burst(label, [0, 1], 1, 120);
    // The newest frame of each camera arrives within one interval (250 ms) of the end of the burst.
    await capped.until(() => [0, 1].every((c) => seqs(capped, c).at(-1) === 120), 1500, 'newest frames');
    await sleep(400);
    for (const cam of [0, 1]) {
      const got = seqs(capped, cam);
      // 4 a second over the burst, plus the snapshot (which starts no interval) and the last.
      expect(got.length).toBeLessThanOrEqual(Math.ceil((took / 1000) * 4) + 3);
      expect(got.length).toBeGreaterThanOrEqual(2);
      expect(got[0]).toBe(0);
      for (let i = 1; i < got.length; i++) expect(got[i]).toBeGreaterThan(got[i - 1]!);
      // The viewer without a cap got every frame.
      expect(seqs(full, cam)).toEqual(Array.from({ length: 121 }, (_, i) => i));
    }
    capped.close();
    full.close();
  });

  it('delivers the last frame of a burst within 1/max_fps after the camera stops', async () => {
    const label = uniqueLabel('stop');
    await post(label, 0, 0);
    const v = await connect(svc.url, `/ws/labels/${label}?max_fps=1`, admin);
    await v.until(() => v.frames.length === 1, 3000, 'snapshot');
    // A burst within the first interval: after the camera's first turn, each is held, replacing the one before.
    const took = await burst(label, [0], 1, 10);
    const stoppedAt = performance.now();
    await v.until(() => seqs(v, 0).at(-1) === 10, 3000, 'last frame of the burst');
    const lateBy = performance.now() - stoppedAt;
    expect(lateBy).toBeLessThan(1000 + 500); // one interval, and generous room for a busy machine
    await sleep(1200);
    // The snapshot, the frame of the camera's first turn in the feed (the snapshot starts no
    // interval), then only the newest: the ones in between were held and replaced.
    const got = seqs(v, 0);
    expect(got[0]).toBe(0);
    expect(got.at(-1)).toBe(10);
    expect(got.length).toBeLessThanOrEqual(3 + Math.ceil(took / 1000));
    for (let i = 1; i < got.length; i++) expect(got[i]).toBeGreaterThan(got[i - 1]!);
    v.close();
  });

  it('serves viewers of different rates on one label, each at its own rate', async () => {
    const label = uniqueLabel('mixed');
    await post(label, 0, 0);
    const slow = await connect(svc.url, `/ws/labels/${label}?max_fps=2`, admin);
    const fast = await connect(svc.url, `/ws/labels/${label}?max_fps=10`, admin);
    await slow.until(() => slow.frames.length === 1);
    await fast.until(() => fast.frames.length === 1);
    // About a second of frames, however fast the machine.
    const t0 = performance.now();
    for (let s = 1; s <= 80; s++) {
      await post(label, 0, s);
      await sleep(10);
    }
    const took = performance.now() - t0;
    await slow.until(() => seqs(slow, 0).at(-1) === 80, 2000, 'slow viewer newest');
    await fast.until(() => seqs(fast, 0).at(-1) === 80, 2000, 'fast viewer newest');
    expect(seqs(slow, 0).length).toBeLessThanOrEqual(Math.ceil((took / 1000) * 2) + 2);
    expect(seqs(fast, 0).length).toBeLessThanOrEqual(Math.ceil((took / 1000) * 10) + 2);
    expect(seqs(fast, 0).length).toBeGreaterThan(seqs(slow, 0).length);
    slow.close();
    fast.close();
  });

  it('caps pull replies too: a client that pulls without pause gets at most max_fps a second', async () => {
    const label = uniqueLabel('pullcap');
    await post(label, 0, 0);
    const v = await connect(svc.url, `/ws/stream/${label}/cam-0?max_fps=5`, admin);
    const pulls = () => v.send(JSON.stringify({ action: 'pull' }));
    v.ws.on('message', (_d, isBinary) => { if (isBinary) pulls(); });
    pulls();
    const took = await burst(label, [0], 1, 100);
    await v.until(() => v.frames.at(-1) !== undefined && seqOf(v.frames.at(-1)!.image).seq === 100, 2000, 'newest pulled');
    const got = v.frames.map((f) => seqOf(f.image).seq);
    expect(got.length).toBeLessThanOrEqual(Math.ceil((took / 1000) * 5) + 2);
    expect(new Set(got).size).toBe(got.length);
    for (let i = 1; i < got.length; i++) expect(got[i]).toBeGreaterThan(got[i - 1]!);
    expect(v.frames[1]!.header).toHaveProperty('id');
    v.close();
  });
});
