// The recorder between the upload path and the database: record() returns at once whatever the
// database does; while writes fail (an outage) frames keep folding into bounded runs and are
// written once it is back; a batch that fails for another reason is given up after a few tries.
// The writer here is a stand-in for the database that can be made to fail: what is tested is the
// recorder's own queueing and retrying (the real writer is tested through the service).
import { describe, expect, it } from 'vitest';
import { EXTEND_EVERY_MS, EventRecorder, type BatchWriter, type EventChange } from '../../src/events/recorder.js';
import type { Run } from '../../src/events/grouping.js';
import { memoryLog } from '../helpers/redis-server.js';
import { eventually } from '../helpers/http.js';
import { defaultMeta, jpeg } from '../helpers/frames.js';

class Writer implements BatchWriter {
  written: Run[][] = [];
  at: number[] = [];
  calls = 0;
  fail: Error | null = null;
  hang = false;
  async writeBatch(runs: Run[]): Promise<{ changes: EventChange[]; deliveries: number }> {
    this.calls++;
    if (this.hang) await new Promise(() => {});
    if (this.fail) throw this.fail;
    this.written.push(runs);
    this.at.push(Date.now());
    return { changes: runs.map((r, i) => ({ id: i, site: r.site, seq: i, created: true })), deliveries: 0 };
  }
  get frames(): number {
    return this.written.flat().reduce((n, r) => n + r.frames, 0);
  }
}

const outage = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const frame = (camera: string, seq: number, warnings = '{"warning_no_hardhat":{"count":1}}') => ({
  label: 'site',
  key: camera,
  id: `${seq}-0`,
  fields: { frame: jpeg(seq), warnings, conePolygons: '[]', polePolygons: '[]', detectionItems: defaultMeta.detection_items_json, width: '0', height: '0' },
});
const recorder = (w: Writer, maxRuns = 100) =>
  new EventRecorder(w, { quietMs: 60_000, flushMs: 10, maxRuns, snapshotMaxBytes: 1024, retryMinMs: 10 }, memoryLog());

describe('EventRecorder', () => {
  it('takes frames without waiting for the database, even one that never answers', async () => {
    const w = new Writer();
    w.hang = true;
    const r = recorder(w);
    for (let i = 0; i < 10_000; i++) r.record(frame(`cam-${i % 4}`, i));
    expect(w.calls).toBe(0); // nothing written synchronously
    expect(r.queued).toBe(4); // 10,000 frames of 4 cameras: 4 runs
    await eventually(() => w.calls === 1, 2000, 'the first write');
    for (let i = 0; i < 1000; i++) r.record(frame(`cam-${i % 4}`, i));
    expect(r.queued).toBe(4);
  });

  it('writes a new warning at once, and one that keeps coming back at most every EXTEND_EVERY_MS', async () => {
    const w = new Writer();
    const r = recorder(w);
    r.record(frame('steady', 1));
    await eventually(() => w.written.length === 1, 2000, 'the first write');
    const firstAt = w.at[0]!;
    for (let i = 0; i < 10; i++) {
      r.record(frame('steady', 2 + i));
      await new Promise((res) => setTimeout(res, 20));
    }
    r.record(frame('newcomer', 100));
    await eventually(() => w.written.flat().some((run) => run.camera === 'newcomer'), 2000, 'the new camera’s write');
    const steadyWrites = () => w.written.map((b, i) => [b, w.at[i]!] as const).filter(([b]) => b.some((run) => run.camera === 'steady'));
    expect(steadyWrites()).toHaveLength(1); // held: it only extends its event
    await eventually(() => steadyWrites().length === 2, 3000, 'the steady camera’s next write');
    expect(steadyWrites()[1]![1] - firstAt).toBeGreaterThanOrEqual(EXTEND_EVERY_MS);
    expect(steadyWrites()[1]![0].find((run) => run.camera === 'steady')!.frames).toBe(10);
  });

  it('ignores frames without warnings', async () => {
    const w = new Writer();
    const r = recorder(w);
    for (const warnings of ['', '[]', '{}', '{"warning_no_hardhat":{"count":0}}']) r.record(frame('cam', 1, warnings));
    expect(r.queued).toBe(0);
    await r.flush();
    expect(w.calls).toBe(0);
    expect(r.counters.framesWithWarnings).toBe(0);
  });

  it('keeps folding during an outage, bounded, and writes everything once the database is back', async () => {
    const w = new Writer();
    w.fail = outage();
    const r = recorder(w, 3);
    for (let i = 0; i < 50; i++) r.record(frame(`cam-${i % 2}`, i));
    await eventually(() => w.calls >= 3, 2000, 'retries');
    for (let i = 50; i < 100; i++) r.record(frame(`cam-${i % 2}`, i));
    expect(r.queued).toBeLessThanOrEqual(3);
    // More cameras than the bound: the oldest runs are dropped, and counted.
    for (let i = 0; i < 3; i++) r.record(frame(`extra-${i}`, 1000 + i));
    expect(r.queued).toBe(3);
    expect(r.droppedFrames).toBeGreaterThan(0);
    expect(r.counters.writeFailures).toBeGreaterThanOrEqual(3);

    w.fail = null;
    await eventually(() => r.queued === 0 && w.written.length > 0, 3000, 'the backlog written');
    await r.flush();
    expect(w.frames + r.droppedFrames).toBe(103);
    expect(w.written.flat().map((run) => run.camera)).toContain('extra-2');
  });

  it('gives up on a batch that keeps failing while the database answers (a bug, not an outage)', async () => {
    const w = new Writer();
    w.fail = new Error('syntax error at or near "x"');
    const r = recorder(w);
    r.record(frame('poison', 1));
    await eventually(() => r.counters.batchesDropped === 1, 3000, 'the batch to be dropped');
    expect(w.calls).toBe(5);
    w.fail = null;
    r.record(frame('next', 2));
    await r.flush();
    expect(w.written.flat().map((run) => run.camera)).toEqual(['next']);
  });
});
