// SQL of the safety events (Kysely; the same statements on SQLite and PostgreSQL).
// Every write starts by bumping the change counter row (events_state 'change_seq'): that gives each
// change its number for the live feed, and, since the row stays locked until commit, it serializes
// event writers across instances, so that change numbers become visible in order (a reader that has
// seen change N has seen every change before it) and two instances never open two events for one
// camera's warning.
import { sql, type Insertable, type Kysely, type Transaction } from 'kysely';
import type { AccountsDb, EventSnapshotsTable, EventsTable } from '../db/schema.js';
import { chunks } from '../lib/chunks.js';
import { describeWarning } from './catalogue.js';
import type { Run } from './grouping.js';
import { runKey } from './grouping.js';
import type { EventRow, EventStatus } from './model.js';
import type { EventChange } from './recorder.js';
import { enqueueDeliveries } from './webhook-repository.js';

export interface EventFilter {
  /** Sites to look in; null = every site (admins without a site filter). */
  sites: readonly string[] | null;
  camera?: string;
  code?: string;
  statuses?: readonly EventStatus[];
  /** Epoch ms: events seen at or after `since` and first seen before `until`. */
  since?: number;
  until?: number;
  /** Words, code or camera containing this text (case-insensitive). */
  q?: string;
  /** Keyset cursor: only events after this one in the listing's order (first seen, then id; newest first). */
  after?: { firstSeen: number; id: number };
  limit: number;
}

export interface SummaryRow {
  /** Days since 1970-01-01 in the requested offset from UTC. */
  day: number;
  site: string;
  camera: string;
  code: string;
  kind: 'code' | 'sentence';
  events: number;
  frames: number;
  peak: number;
}

export interface Snapshot {
  site: string;
  contentType: string;
  image: Buffer;
  takenAt: number;
}

type SnapshotRow = Omit<Insertable<EventSnapshotsTable>, 'event_id'>;
/** An event a batch creates or extends, worked out in memory before it is written. */
interface Target {
  /** null until inserted. */
  id: number | null;
  row: Omit<Insertable<EventsTable>, 'id' | 'note' | 'reviewed_by' | 'reviewed_at'> & { status: string; last_seen: number | string; peak_count: number };
  created: boolean;
  /** Snapshots to write: the first frame's (new events), the peak frame's when it is another. */
  first: SnapshotRow | null;
  peak: SnapshotRow | null;
}

const imageType = (b: Buffer) => (b[0] === 0x89 ? 'image/png' : 'image/jpeg');
const likePattern = (q: string) => `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
const MAX_REVIEWS_SHOWN = 500;
/** Snapshots (up to EVENT_SNAPSHOT_MAX_BYTES each) per insert statement. */
const SNAPSHOTS_PER_STATEMENT = 8;
/**
 * Between two statements of a batch, lets uploads in: better-sqlite3 runs each statement on the
 * event loop, and awaiting it only yields to promises, so a burst of new events with their
 * snapshots (megabytes) would otherwise hold the uploads up until the whole batch is written.
 */
const letOthersIn = () => new Promise<void>((resolve) => setImmediate(resolve));

const snapshot = (kind: 'first' | 'peak', image: Buffer, count: number, at: number): SnapshotRow => ({ kind, content_type: imageType(image), image, count, taken_at: at });

function newTarget(run: Run, seq: number): Target {
  const peakIsLater = run.peakFrameId !== run.firstFrameId && run.peakImage !== null;
  return {
    id: null,
    row: {
      site: run.site,
      camera: run.camera,
      code: run.code,
      kind: run.kind,
      words: describeWarning(run.code, run.kind, run.peakCount).words,
      count: run.count,
      peak_count: run.peakCount,
      first_seen: run.firstAt,
      last_seen: run.lastAt,
      frames_seen: run.frames,
      first_frame_id: run.firstFrameId,
      last_frame_id: run.lastFrameId,
      has_snapshot: run.firstImage ? 1 : 0,
      has_peak_snapshot: peakIsLater ? 1 : 0,
      status: 'new',
      created_seq: seq,
      change_seq: seq,
    },
    created: true,
    first: run.firstImage ? snapshot('first', run.firstImage, run.firstCount, run.firstAt) : null,
    peak: peakIsLater ? snapshot('peak', run.peakImage!, run.peakCount, run.peakAt) : null,
  };
}

/** Folds a later run of the same camera and warning into the event. */
function extendTarget(t: Target, run: Run, seq: number): void {
  const r = t.row;
  const lastSeen = Number(r.last_seen);
  if (run.lastAt >= lastSeen) {
    r.count = run.count;
    r.last_frame_id = run.lastFrameId;
  }
  r.last_seen = Math.max(lastSeen, run.lastAt);
  r.frames_seen = Number(r.frames_seen) + run.frames;
  if (run.peakCount > r.peak_count) {
    r.peak_count = run.peakCount;
    r.words = describeWarning(run.code, run.kind, run.peakCount).words;
    if (run.peakImage) {
      t.peak = snapshot('peak', run.peakImage, run.peakCount, run.peakAt);
      r.has_peak_snapshot = 1;
    }
  }
  r.change_seq = seq;
}

export const MAX_SUMMARY_ROWS = 10_000;

/** Bumps the change counter by `n` (0: only takes the writers' lock); returns its new value. */
async function bumpChanges(trx: Transaction<AccountsDb>, n: number): Promise<number> {
  const r = await trx
    .updateTable('events_state')
    .set({ value: sql`value + ${n}` })
    .where('name', '=', 'change_seq')
    .returning('value')
    .executeTakeFirstOrThrow();
  return Number(r.value);
}

export class EventsRepository {
  constructor(
    readonly db: Kysely<AccountsDb>,
    private readonly quietMs: number,
  ) {}

  // ---------------------------------------------------------------- the recorder's writes

  /**
   * Writes pending runs in one transaction: each extends its camera's open event for the warning
   * (seen within the quiet period, not resolved) or starts a new one with its snapshots; new events
   * get a delivery for every matching webhook. The outcome is worked out in memory first, so that a
   * batch costs a handful of statements however many cameras it holds (better-sqlite3 runs them on
   * the event loop the uploads share).
   */
  writeBatch(runs: Run[]): Promise<{ changes: EventChange[]; deliveries: number }> {
    return this.db.transaction().execute(async (trx) => {
      let seq = (await bumpChanges(trx, runs.length)) - runs.length;
      const targets = await this.openEvents(trx, runs);
      const fresh: Target[] = [];
      // Every event the batch changes (one camera's warning may extend one and then, after a quiet
      // gap, open another).
      const touched = new Set<Target>();
      for (const run of runs) {
        seq++;
        const key = runKey(run.site, run.camera, run.code);
        const t = targets.get(key);
        if (t && t.row.status !== 'resolved' && run.firstAt - Number(t.row.last_seen) <= this.quietMs) {
          extendTarget(t, run, seq);
          touched.add(t);
        } else {
          const n = newTarget(run, seq);
          targets.set(key, n);
          fresh.push(n);
          touched.add(n);
        }
      }
      await this.insertNew(trx, fresh);
      await this.updateExtended(trx, [...touched].filter((t) => !t.created));
      const created = fresh.map((t) => ({ id: t.id!, site: t.row.site }));
      const deliveries = created.length > 0 ? await enqueueDeliveries(trx, created, Date.now()) : 0;
      const changes = [...touched].map((t) => ({ id: t.id!, site: t.row.site, seq: Number(t.row.change_seq), created: t.created }));
      return { changes, deliveries };
    });
  }

  /**
   * The events the runs may extend: per camera and warning, the newest seen within the quiet
   * period of the earliest run (an older one could not be extended by any of them).
   */
  private async openEvents(trx: Transaction<AccountsDb>, runs: Run[]): Promise<Map<string, Target>> {
    const out = new Map<string, Target>();
    const since = Math.min(...runs.map((r) => r.firstAt)) - this.quietMs;
    const wanted = new Set(runs.map((r) => runKey(r.site, r.camera, r.code)));
    for (const sites of chunks([...new Set(runs.map((r) => r.site))])) {
      const rows = await trx.selectFrom('events').selectAll().where('last_seen', '>=', since).where('site', 'in', sites).execute();
      for (const r of rows) {
        const key = runKey(r.site, r.camera, r.code);
        const seen = out.get(key);
        if (!wanted.has(key) || (seen && seen.id! > Number(r.id))) continue;
        const { id, note: _n, reviewed_by: _b, reviewed_at: _a, ...row } = r;
        out.set(key, { id: Number(id), row, created: false, first: null, peak: null });
      }
    }
    return out;
  }

  private async insertNew(trx: Transaction<AccountsDb>, fresh: Target[]): Promise<void> {
    for (const part of chunks(fresh, 200)) {
      const ids = await trx.insertInto('events').values(part.map((t) => t.row)).returning(['id', 'created_seq']).execute();
      const bySeq = new Map(ids.map((r) => [Number(r.created_seq), Number(r.id)]));
      for (const t of part) t.id = bySeq.get(Number(t.row.created_seq))!;
    }
    const snaps = fresh.flatMap((t) => [t.first, t.peak].filter((s) => s !== null).map((s) => ({ ...s!, event_id: t.id! })));
    for (const part of chunks(snaps, SNAPSHOTS_PER_STATEMENT)) {
      await letOthersIn();
      await trx.insertInto('event_snapshots').values(part).execute();
    }
  }

  /** One upsert by id for all extended events (only the columns the recorder owns change). */
  private async updateExtended(trx: Transaction<AccountsDb>, extended: Target[]): Promise<void> {
    for (const part of chunks(extended, 200)) {
      await trx
        .insertInto('events')
        .values(part.map((t) => ({ id: t.id!, ...t.row })))
        .onConflict((oc) =>
          oc.column('id').doUpdateSet((eb) => ({
            last_seen: eb.ref('excluded.last_seen'),
            frames_seen: eb.ref('excluded.frames_seen'),
            count: eb.ref('excluded.count'),
            last_frame_id: eb.ref('excluded.last_frame_id'),
            peak_count: eb.ref('excluded.peak_count'),
            words: eb.ref('excluded.words'),
            has_peak_snapshot: eb.ref('excluded.has_peak_snapshot'),
            change_seq: eb.ref('excluded.change_seq'),
          })),
        )
        .execute();
    }
    const peaks = extended.filter((t) => t.peak !== null).map((t) => ({ ...t.peak!, event_id: t.id! }));
    for (const part of chunks(peaks, SNAPSHOTS_PER_STATEMENT)) {
      await letOthersIn();
      await trx
        .insertInto('event_snapshots')
        .values(part)
        .onConflict((oc) =>
          oc.columns(['event_id', 'kind']).doUpdateSet((eb) => ({
            content_type: eb.ref('excluded.content_type'),
            image: eb.ref('excluded.image'),
            count: eb.ref('excluded.count'),
            taken_at: eb.ref('excluded.taken_at'),
          })),
        )
        .execute();
    }
  }

  // ---------------------------------------------------------------- reads

  /**
   * Newest first: by first seen, then id. Neither changes once an event exists (extending it moves
   * its last seen only), so pages neither skip nor repeat events, however many arrive meanwhile.
   */
  async list(f: EventFilter): Promise<EventRow[]> {
    if (f.sites !== null && f.sites.length === 0) return [];
    let q = this.db.selectFrom('events').selectAll();
    if (f.sites !== null) q = f.sites.length === 1 ? q.where('site', '=', f.sites[0]!) : q.where('site', 'in', [...f.sites]);
    if (f.camera !== undefined) q = q.where('camera', '=', f.camera);
    if (f.code !== undefined) q = q.where('code', '=', f.code);
    if (f.statuses !== undefined && f.statuses.length > 0) q = q.where('status', 'in', [...f.statuses]);
    if (f.since !== undefined) q = q.where('last_seen', '>=', f.since);
    if (f.until !== undefined) q = q.where('first_seen', '<', f.until);
    if (f.after !== undefined) q = q.where((eb) => eb(eb.refTuple('first_seen', 'id'), '<', eb.tuple(f.after!.firstSeen, f.after!.id)));
    if (f.q !== undefined && f.q !== '') {
      const p = likePattern(f.q);
      q = q.where((eb) =>
        eb.or([
          eb(sql`lower(words)`, 'like', sql`${p} escape '\\'`),
          eb(sql`lower(code)`, 'like', sql`${p} escape '\\'`),
          eb(sql`lower(camera)`, 'like', sql`${p} escape '\\'`),
        ]),
      );
    }
    return q.orderBy('first_seen', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
  }

  get(id: number): Promise<EventRow | undefined> {
    return this.db.selectFrom('events').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async reviews(eventId: number) {
    const rows = await this.db.selectFrom('event_reviews').selectAll().where('event_id', '=', eventId).orderBy('id', 'desc').limit(MAX_REVIEWS_SHOWN).execute();
    return rows.reverse();
  }

  /** The first frame's snapshot, or the peak one (falling back to the first when the peak is the first frame). */
  async snapshot(eventId: number, which: 'first' | 'peak'): Promise<Snapshot | null> {
    const r = await this.db
      .selectFrom('event_snapshots as s')
      .innerJoin('events as e', 'e.id', 's.event_id')
      .select(['e.site as site', 's.content_type as content_type', 's.image as image', 's.taken_at as taken_at'])
      .where('s.event_id', '=', eventId)
      .where('s.kind', 'in', which === 'peak' ? ['peak', 'first'] : ['first'])
      .orderBy('s.kind', 'desc') // 'peak' before 'first'
      .limit(1)
      .executeTakeFirst();
    return r ? { site: r.site, contentType: r.content_type, image: Buffer.from(r.image), takenAt: Number(r.taken_at) } : null;
  }

  /**
   * Events changed after change number `after`, in change order (the live feed and its resume).
   * Every site: callers filter, so that the cost follows the changes read, whatever the sites hold.
   */
  changesSince(after: number, limit: number): Promise<EventRow[]> {
    return this.db.selectFrom('events').selectAll().where('change_seq', '>', after).orderBy('change_seq', 'asc').limit(limit).execute();
  }

  /** The number of the latest committed change. */
  async lastChange(): Promise<number> {
    const r = await this.db.selectFrom('events_state').select('value').where('name', '=', 'change_seq').executeTakeFirstOrThrow();
    return Number(r.value);
  }

  /** Events per day, site, camera and warning, by first seen. */
  async summary(sites: readonly string[] | null, since: number, until: number, offsetMs: number): Promise<SummaryRow[]> {
    if (sites !== null && sites.length === 0) return [];
    // A literal (an integer the route checked), not a parameter: PostgreSQL must see the same
    // expression in the select list and in GROUP BY.
    const day = sql<number>`(first_seen + ${sql.lit(Math.trunc(offsetMs))}) / 86400000`;
    let q = this.db
      .selectFrom('events')
      .select((eb) => [
        day.as('day'),
        'site',
        'camera',
        'code',
        'kind',
        eb.fn.countAll().as('events'),
        eb.fn.sum('frames_seen').as('frames'),
        eb.fn.max('peak_count').as('peak'),
      ])
      .where('first_seen', '>=', since)
      .where('first_seen', '<', until);
    if (sites !== null) q = q.where('site', 'in', [...sites]);
    const rows = await q
      .groupBy([day, 'site', 'camera', 'code', 'kind'])
      .orderBy(day)
      .orderBy('site')
      .orderBy('camera')
      .orderBy('code')
      .limit(MAX_SUMMARY_ROWS)
      .execute();
    return rows.map((r) => ({
      day: Number(r.day),
      site: r.site,
      camera: r.camera,
      code: r.code,
      kind: r.kind,
      events: Number(r.events),
      frames: Number(r.frames),
      peak: Number(r.peak),
    }));
  }

  // ---------------------------------------------------------------- review

  /** Sets the status and/or note and appends to the audit; undefined when there is no such event. */
  review(id: number, by: { userId: number; username: string }, change: { status?: EventStatus; note?: string }): Promise<EventRow | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const seq = await bumpChanges(trx, 1);
      const cur = await trx.selectFrom('events').select('status').where('id', '=', id).executeTakeFirst();
      if (!cur) return undefined;
      const now = Date.now();
      const to = change.status ?? cur.status;
      await trx
        .updateTable('events')
        .set({
          status: to,
          ...(change.note !== undefined ? { note: change.note } : {}),
          reviewed_by: by.username,
          reviewed_at: now,
          change_seq: seq,
        })
        .where('id', '=', id)
        .execute();
      await trx
        .insertInto('event_reviews')
        .values({ event_id: id, at: now, user_id: by.userId, username: by.username, from_status: cur.status, to_status: to, note: change.note ?? null })
        .execute();
      return trx.selectFrom('events').selectAll().where('id', '=', id).executeTakeFirst();
    });
  }

  // ---------------------------------------------------------------- retention

  async retentionMs(): Promise<number | null> {
    const r = await this.db.selectFrom('events_state').select('value').where('name', '=', 'retention_ms').executeTakeFirst();
    return r ? Number(r.value) : null;
  }

  async setRetentionMs(ms: number): Promise<void> {
    await this.db
      .insertInto('events_state')
      .values({ name: 'retention_ms', value: ms })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value: ms }))
      .execute();
  }

  /** Deletes up to `max` events last seen before `cutoff` (their snapshots, reviews and deliveries go with them). */
  deleteOlderThan(cutoff: number, max: number): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      await bumpChanges(trx, 0); // the writers' lock: no event is extended while it is deleted
      const ids = (await trx.selectFrom('events').select('id').where('last_seen', '<', cutoff).orderBy('last_seen').limit(max).execute()).map((r) => Number(r.id));
      if (ids.length === 0) return 0;
      await trx.deleteFrom('events').where('id', 'in', ids).execute();
      return ids.length;
    });
  }
}
