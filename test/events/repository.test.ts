// The recorder's writes against the real databases: how a batch of runs extends open events or
// opens new ones, including the cases a live service rarely shows (several runs of one camera's
// warning in one batch, as after an outage; an event resolved meanwhile).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES, SQLITE, Sandbox } from '../helpers/service.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { EventsRepository } from '../../src/events/repository.js';
import type { Run } from '../../src/events/grouping.js';
import { jpeg } from '../helpers/frames.js';

const QUIET = 10_000;

function run(camera: string, firstAt: number, over: Partial<Run> = {}): Run {
  const image = jpeg(firstAt % 1000);
  return {
    site: 'site', camera, code: 'warning_no_hardhat', kind: 'code', firstAt, lastAt: firstAt + 1000, frames: 3, count: 1,
    firstFrameId: `${firstAt}-0`, lastFrameId: `${firstAt + 1000}-0`, firstCount: 1, firstImage: image,
    peakCount: 1, peakAt: firstAt, peakFrameId: `${firstAt}-0`, peakImage: image, ...over,
  };
}

describe.each([SQLITE, POSTGRES])('events repository ($name)', (backend) => {
  let sandbox: Sandbox;
  let database: Database;
  let repo: EventsRepository;
  beforeAll(async () => {
    sandbox = new Sandbox(backend, 'eventsrepo');
    const env = sandbox.env();
    database = await openDatabase({ databaseUrl: env.DATABASE_URL ?? null, dataDir: sandbox.dataDir }, { schema: sandbox.schema });
    repo = new EventsRepository(database.db, QUIET);
  });
  afterAll(async () => {
    await database?.close();
    await sandbox?.cleanup();
  });
  const all = (camera: string) => repo.list({ sites: ['site'], camera, limit: 100 });

  it('extends an event and, after a quiet gap within the same batch, opens another', async () => {
    const t = 1_000_000;
    const first = await repo.writeBatch([run('a', t)]);
    expect(first.changes).toMatchObject([{ created: true }]);
    const later = await repo.writeBatch([run('a', t + 5000, { peakCount: 4, peakAt: t + 5500, peakFrameId: 'p', peakImage: jpeg(9) }), run('a', t + 5000 + 1000 + QUIET + 1)]);
    expect(later.changes.map((c) => c.created).sort()).toEqual([false, true]);
    const rows = await all('a');
    expect(rows.map((r) => [Number(r.frames_seen), r.peak_count])).toEqual([[3, 1], [6, 4]]);
    const old = rows[1]!;
    expect(Number(old.last_seen)).toBe(t + 6000);
    expect((await repo.snapshot(Number(old.id), 'peak'))!.image.equals(jpeg(9))).toBe(true);
    expect((await repo.snapshot(Number(old.id), 'first'))!.image.equals(jpeg(t % 1000))).toBe(true);
  });

  it('merges runs of one new event in a batch, and starts afresh after a resolved one', async () => {
    const t = 2_000_000;
    await repo.writeBatch([run('b', t), run('b', t + 2000, { peakCount: 2, peakFrameId: 'q', peakImage: jpeg(5), peakAt: t + 2100 })]);
    let rows = await all('b');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ peak_count: 2, has_snapshot: 1, has_peak_snapshot: 1 });
    expect(Number(rows[0]!.frames_seen)).toBe(6);
    expect((await repo.snapshot(Number(rows[0]!.id), 'peak'))!.image.equals(jpeg(5))).toBe(true);
    await repo.review(Number(rows[0]!.id), { userId: 1, username: 'admin' }, { status: 'resolved' });
    await repo.writeBatch([run('b', t + 4000)]);
    rows = await all('b');
    expect(rows.map((r) => r.status)).toEqual(['new', 'resolved']);
  });

  it('gives every change a number above the last, visible in order', async () => {
    const before = await repo.lastChange();
    const { changes } = await repo.writeBatch([run('c', 3_000_000), run('d', 3_000_000)]);
    expect(changes.every((c) => c.seq > before)).toBe(true);
    expect(await repo.lastChange()).toBeGreaterThanOrEqual(Math.max(...changes.map((c) => c.seq)));
    const seen = await repo.changesSince(before, 100);
    expect(seen.map((r) => r.camera)).toEqual(['c', 'd']);
  });
});
