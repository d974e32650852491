// SQL of the safety events (Kysely; the same statements on SQLite and PostgreSQL).
// Every write starts by bumping the change counter row (events_state 'change_seq'): that gives each
// change its number for the live feed, and, since the row stays locked until commit, it serializes
// event writers across instances, so that change numbers become visible in order (a reader that has
// seen change N has seen every change before it) and two instances never open two events for one
// camera's warning.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { AccountsDb } from '../db/schema.js';
import { describeWarning } from './catalogue.js';
import type { Run } from './grouping.js';
import { runKey } from './grouping.js';
import type { EventRow, EventStatus } from './model.js';
import type { EventChange } from './recorder.js';
import { enqueueDeliveries } from './webhook-repository.js';

type Db = Kysely<AccountsDb> | Transaction<AccountsDb>;

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

interface Head {
  id: number;
  lastSeen: number;
  count: number;
  peakCount: number;
  frames: number;
  status: string;
}

const imageType = (b: Buffer) => (b[0] === 0x89 ? 'image/png' : 'image/jpeg');
const likePattern = (q: string) => `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
const MAX_REVIEWS_SHOWN = 500;
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
   * get a delivery for every matching webhook.
   */
  writeBatch(runs: Run[]): Promise<{ changes: EventChange[]; deliveries: number }> {
    return this.db.transaction().execute(async (trx) => {
      let seq = (await bumpChanges(trx, runs.length)) - runs.length;
      const heads = new Map<string, Head | null>();
      const changes: EventChange[] = [];
      const created: Array<{ id: number; site: string }> = [];
      for (const run of runs) {
        seq++;
        const key = runKey(run.site, run.camera, run.code);
        let head = heads.get(key);
        if (head === undefined) head = await this.head(trx, run);
        if (head && head.status !== 'resolved' && run.firstAt - head.lastSeen <= this.quietMs) {
          head = await this.extend(trx, head, run, seq);
          changes.push({ id: head.id, site: run.site, seq, created: false });
        } else {
          head = await this.insert(trx, run, seq);
          changes.push({ id: head.id, site: run.site, seq, created: true });
          created.push({ id: head.id, site: run.site });
        }
        heads.set(key, head);
      }
      const deliveries = created.length > 0 ? await enqueueDeliveries(trx, created, Date.now()) : 0;
      return { changes, deliveries };
    });
  }

  /** The camera's newest event for the warning. */
  private async head(trx: Db, run: Run): Promise<Head | null> {
    const r = await trx
      .selectFrom('events')
      .select(['id', 'last_seen', 'count', 'peak_count', 'frames_seen', 'status'])
      .where('site', '=', run.site)
      .where('camera', '=', run.camera)
      .where('code', '=', run.code)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!r) return null;
    return { id: Number(r.id), lastSeen: Number(r.last_seen), count: Number(r.count), peakCount: Number(r.peak_count), frames: Number(r.frames_seen), status: r.status };
  }

  private async extend(trx: Transaction<AccountsDb>, head: Head, run: Run, seq: number): Promise<Head> {
    const later = run.lastAt >= head.lastSeen;
    const peak = run.peakCount > head.peakCount;
    const peakImage = peak ? run.peakImage : null;
    const next: Head = {
      ...head,
      lastSeen: Math.max(head.lastSeen, run.lastAt),
      frames: head.frames + run.frames,
      count: later ? run.count : head.count,
      peakCount: Math.max(head.peakCount, run.peakCount),
    };
    await trx
      .updateTable('events')
      .set({
        last_seen: next.lastSeen,
        frames_seen: next.frames,
        count: next.count,
        ...(later ? { last_frame_id: run.lastFrameId } : {}),
        ...(peak ? { peak_count: run.peakCount, words: describeWarning(run.code, run.kind, run.peakCount).words } : {}),
        ...(peakImage ? { has_peak_snapshot: 1 } : {}),
        change_seq: seq,
      })
      .where('id', '=', head.id)
      .execute();
    if (peakImage) {
      const snap = { event_id: head.id, kind: 'peak' as const, content_type: imageType(peakImage), image: peakImage, count: run.peakCount, taken_at: run.peakAt };
      await trx
        .insertInto('event_snapshots')
        .values(snap)
        .onConflict((oc) => oc.columns(['event_id', 'kind']).doUpdateSet({ content_type: snap.content_type, image: snap.image, count: snap.count, taken_at: snap.taken_at }))
        .execute();
    }
    return next;
  }

  private async insert(trx: Transaction<AccountsDb>, run: Run, seq: number): Promise<Head> {
    const peakIsLater = run.peakFrameId !== run.firstFrameId && run.peakImage !== null;
    const r = await trx
      .insertInto('events')
      .values({
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
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const id = Number(r.id);
    const snaps = [];
    if (run.firstImage) snaps.push({ event_id: id, kind: 'first' as const, content_type: imageType(run.firstImage), image: run.firstImage, count: run.firstCount, taken_at: run.firstAt });
    if (peakIsLater) snaps.push({ event_id: id, kind: 'peak' as const, content_type: imageType(run.peakImage!), image: run.peakImage!, count: run.peakCount, taken_at: run.peakAt });
    if (snaps.length > 0) await trx.insertInto('event_snapshots').values(snaps).execute();
    return { id, lastSeen: run.lastAt, count: run.count, peakCount: run.peakCount, frames: run.frames, status: 'new' };
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
