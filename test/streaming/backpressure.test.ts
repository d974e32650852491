// A slow or stalled viewer gets the newest frame of each camera (latest wins), never makes the
// server's memory grow, never slows the others, and is closed (1013) when it stops reading.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { connect, defaultMeta, jpeg, postFrame, seqOf, sleep, uniqueLabel } from '../helpers/frames.js';

const LIMIT = 256 * 1024;
const FRAME = 64 * 1024;

describe('backpressure', () => {
  let svc: TestService;
  let admin: string;
  beforeAll(async () => {
    // A long stall time here: the latest-wins test pauses its viewer for several seconds.
    svc = await startService({ env: { VIEWER_MAX_BUFFER_BYTES: String(LIMIT), VIEWER_STALL_MS: '30000' } });
    admin = await svc.token('admin');
  });
  afterAll(async () => svc?.stop());

  async function flood(label: string, from: number, count: number, target = svc, token = admin): Promise<void> {
    for (let s = from; s < from + count; s++) {
      await Promise.all([0, 1].map((cam) => postFrame(target.url, token, { label, key: `cam-${cam}`, ...defaultMeta }, jpeg(s, FRAME, cam))));
    }
  }

  it('keeps a paused viewer bounded, skips stale frames, and leaves a fast viewer whole', async () => {
    const label = uniqueLabel();
    await flood(label, 0, 1);
    const slow = await connect(svc.url, `/ws/labels/${label}`, admin);
    const fast = await connect(svc.url, `/ws/labels/${label}`, admin);
    await slow.until(() => slow.frames.length === 2);
    await fast.until(() => fast.frames.length === 2);
    slow.ws.pause(); // stops reading: the kernel buffers fill, then the server's
    const skippedBefore = svc.hub.counters.skipped;
    await flood(label, 1, 300); // 600 frames, about 39 MB
    const worst = Math.max(...svc.hub.backlogs().map((b) => b.bufferedBytes));
    // Unsent bytes stay under the limit; held-back frames at most one per camera.
    expect(worst).toBeLessThanOrEqual(LIMIT);
    expect(Math.max(...svc.hub.backlogs().map((b) => b.pendingFrames))).toBeLessThanOrEqual(2);
    expect(svc.hub.counters.skipped).toBeGreaterThan(skippedBefore);
    // The fast viewer got every frame, once.
    await fast.until(() => fast.frames.length === 602, 5000, 'fast viewer');
    for (const cam of [0, 1]) {
      const seqs = fast.frames.filter((f) => seqOf(f.image).cam === cam).map((f) => seqOf(f.image).seq);
      expect(seqs).toEqual(Array.from({ length: 301 }, (_, i) => i));
    }
    // The slow one resumes: it gets the newest frames, having skipped stale ones, without duplicates.
    slow.ws.resume();
    await slow.until(() => [0, 1].every((cam) => slow.frames.some((f) => seqOf(f.image).cam === cam && seqOf(f.image).seq === 300)), 5000, 'newest frames');
    for (const cam of [0, 1]) {
      const seqs = slow.frames.filter((f) => seqOf(f.image).cam === cam).map((f) => seqOf(f.image).seq);
      expect(seqs.length).toBeLessThan(301);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs); // in order
      expect(new Set(seqs).size).toBe(seqs.length); // no duplicates
    }
    expect(slow.closed).toBeNull();
    slow.close();
    fast.close();
  });

  it('keeps a slow but steady reader open, giving it recent frames with stale ones skipped', async () => {
    const quick = await startService({ env: { VIEWER_MAX_BUFFER_BYTES: String(LIMIT), VIEWER_STALL_MS: '1500' } });
    try {
      const token = await quick.token('admin');
      const label = uniqueLabel();
      await flood(label, 0, 1, quick, token);
      const slow = await connect(quick.url, `/ws/labels/${label}`, token);
      await slow.until(() => slow.frames.length === 2);
      // Reads about one message every 50 ms, far fewer than are posted.
      let throttled = true;
      slow.ws.pause();
      slow.ws.on('message', () => throttled && slow.ws.pause());
      const reader = setInterval(() => slow.ws.resume(), 50);
      const until = Date.now() + 4000;
      let s = 1;
      while (Date.now() < until) await flood(label, s++, 1, quick, token);
      clearInterval(reader);
      throttled = false;
      slow.ws.resume();
      await slow.until(() => slow.frames.some((f) => seqOf(f.image).seq === s - 1), 10_000, 'the newest frame');
      expect(slow.closed).toBeNull();
      expect(quick.hub.counters.stalled).toBe(0);
      const seqs = slow.frames.filter((f) => seqOf(f.image).cam === 0).map((f) => seqOf(f.image).seq);
      expect(seqs.length).toBeLessThan(s); // stale frames were skipped
      expect(new Set(seqs).size).toBe(seqs.length);
      const metrics = await (await fetch(`${quick.url}/metrics`)).text();
      expect(metrics).toMatch(/^viewer_unsent_bytes_max \d+/m);
      slow.close();
    } finally {
      await quick.stop();
    }
  });

  it('budgets a viewer that stays behind about a second of its own pace, and a fast one the full limit', async () => {
    const big = 1024 * 1024;
    // The default stall time, so the budget is set every second. (Node writes the frames queued
    // behind a pending write in one writev that completes as a whole, so the first full budget
    // takes a slow viewer several seconds to drain.)
    const quick = await startService({ env: { VIEWER_MAX_BUFFER_BYTES: String(big) } });
    try {
      const token = await quick.token('admin');
      const label = uniqueLabel();
      await flood(label, 0, 1, quick, token);
      const slow = await connect(quick.url, `/ws/labels/${label}`, token);
      const fast = await connect(quick.url, `/ws/labels/${label}`, token);
      await slow.until(() => slow.frames.length === 2);
      // The slow one reads about 5 messages (320 KB) a second.
      slow.ws.pause();
      slow.ws.on('message', () => slow.ws.pause());
      const reader = setInterval(() => slow.ws.resume(), 200);
      const until = Date.now() + 6000;
      let s = 1;
      while (Date.now() < until) await flood(label, s++, 1, quick, token);
      const budgets = quick.hub.backlogs().map((b) => b.budgetBytes).sort((a, b) => a - b);
      clearInterval(reader);
      // The slow viewer's budget follows its pace (320 KB/s, give or take the kernel's bursts), far
      // under the limit; the fast one keeps the limit.
      expect(budgets[0]).toBeGreaterThan(0);
      expect(budgets[0]).toBeLessThan(big / 2);
      expect(budgets[1]).toBe(big);
      expect(slow.closed).toBeNull();
      await fast.until(() => fast.frames.length === 2 * s, 5000, 'every frame for the fast viewer');
      slow.close();
      fast.close();
    } finally {
      await quick.stop();
    }
  });

  it('closes a viewer that stops reading for the stall time with 1013', async () => {
    const quick = await startService({ env: { VIEWER_MAX_BUFFER_BYTES: String(LIMIT), VIEWER_STALL_MS: '1500' } });
    try {
      const token = await quick.token('admin');
      const label = uniqueLabel();
      await flood(label, 0, 1, quick, token);
      const stalled = await connect(quick.url, `/ws/labels/${label}`, token);
      await stalled.until(() => stalled.frames.length === 2);
      stalled.ws.pause();
      await flood(label, 1, 200, quick, token);
      const deadline = Date.now() + 6000;
      while (quick.hub.counters.stalled === 0 && Date.now() < deadline) await sleep(100);
      expect(quick.hub.counters.stalled).toBe(1);
      await sleep(1200); // the server cuts it off if it cannot even take the close frame
      expect(quick.hub.viewerCount).toBe(0);
      stalled.ws.resume();
      const closed = await stalled.waitClose(5000);
      expect([1013, 1006]).toContain(closed.code);
    } finally {
      await quick.stop();
    }
  });
});
