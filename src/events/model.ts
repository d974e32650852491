// A safety event as the API, the live feed and the webhooks show it, built from its row.
import type { Selectable } from 'kysely';
import type { EventReviewsTable, EventsTable } from '../db/schema.js';
import { describeWarning } from './catalogue.js';

export const STATUSES = ['new', 'acknowledged', 'false_positive', 'resolved'] as const;
export type EventStatus = (typeof STATUSES)[number];

export type EventRow = Selectable<EventsTable>;

export interface EventView {
  id: number;
  site: string;
  camera: string;
  code: string;
  kind: 'code' | 'sentence';
  title: string;
  words: string;
  count: number;
  peak_count: number;
  first_seen: string;
  last_seen: string;
  frames_seen: number;
  /** True while the warning may still extend it (seen within the quiet period). */
  ongoing: boolean;
  status: EventStatus;
  note: string | null;
  reviewed_by: string | null;
  reviewed_at: string | null;
  snapshot_url: string | null;
  peak_snapshot_url: string | null;
  first_frame_id: string;
  last_frame_id: string;
  /** The number of its latest change (the live feed's event id). */
  seq: number;
}

export interface ReviewView {
  id: number;
  at: string;
  user_id: number | null;
  username: string;
  from_status: string;
  to_status: string;
  note: string | null;
}

const iso = (ms: number | string) => new Date(Number(ms)).toISOString();

export function eventView(r: EventRow, quietMs: number, now = Date.now()): EventView {
  const lastSeen = Number(r.last_seen);
  const hasFirst = Number(r.has_snapshot) === 1;
  const hasPeak = Number(r.has_peak_snapshot) === 1;
  return {
    id: Number(r.id),
    site: r.site,
    camera: r.camera,
    code: r.code,
    kind: r.kind,
    title: describeWarning(r.code, r.kind, r.peak_count).title,
    words: r.words,
    count: Number(r.count),
    peak_count: Number(r.peak_count),
    first_seen: iso(r.first_seen),
    last_seen: iso(lastSeen),
    frames_seen: Number(r.frames_seen),
    ongoing: r.status !== 'resolved' && now - lastSeen <= quietMs,
    status: r.status as EventStatus,
    note: r.note,
    reviewed_by: r.reviewed_by,
    reviewed_at: r.reviewed_at === null ? null : iso(r.reviewed_at),
    snapshot_url: hasFirst ? `/events/${r.id}/snapshot.jpg` : null,
    peak_snapshot_url: hasFirst || hasPeak ? `/events/${r.id}/peak.jpg` : null,
    first_frame_id: r.first_frame_id,
    last_frame_id: r.last_frame_id,
    seq: Number(r.change_seq),
  };
}

export function reviewView(r: Selectable<EventReviewsTable>): ReviewView {
  return {
    id: Number(r.id),
    at: iso(r.at),
    user_id: r.user_id === null ? null : Number(r.user_id),
    username: r.username,
    from_status: r.from_status,
    to_status: r.to_status,
    note: r.note,
  };
}
