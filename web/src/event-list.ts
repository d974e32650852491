// Safety events as the page holds them (GET /events, the live feed): their shape, the filters of
// the history page in its address, and a bounded list that merges the first page with the live
// changes in whatever order they come. No DOM here.

export const STATUSES = ['new', 'acknowledged', 'false_positive', 'resolved'] as const;
export type EventStatus = (typeof STATUSES)[number];

export interface SafetyEvent {
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
  ongoing: boolean;
  status: EventStatus;
  note: string | null;
  reviewed_by: string | null;
  reviewed_at: string | null;
  snapshot_url: string | null;
  peak_snapshot_url: string | null;
  /** Number of its latest change: a state with a lower one is older. */
  seq: number;
}

export interface EventReview {
  id: number;
  at: string;
  username: string;
  from_status: string;
  to_status: string;
  note: string | null;
}

export interface EventWithAudit extends SafetyEvent {
  audit: EventReview[];
}

export interface EventPage {
  events: SafetyEvent[];
  next_cursor: string | null;
}

/** The history page's filters, kept in its address (#/site/<site>/events?camera=…&status=…). */
export interface EventFilters {
  camera?: string;
  code?: string;
  status?: EventStatus;
  /** ISO 8601 times. */
  since?: string;
  until?: string;
  q?: string;
}

const FILTER_KEYS = ['camera', 'code', 'status', 'since', 'until', 'q'] as const;
/** The API's bounds (src/events/schemas.ts): longer values would be refused. */
const MAX_NAME = 256;
const MAX_TIME = 40;
const MAX_Q = 200;

/** Filters from an address's query; values the API would refuse are left out. */
export function parseFilters(query: string): EventFilters {
  const p = new URLSearchParams(query);
  const f: EventFilters = {};
  const camera = p.get('camera');
  if (camera && camera.length <= MAX_NAME) f.camera = camera;
  const code = p.get('code');
  if (code && code.length <= MAX_NAME) f.code = code;
  const status = p.get('status');
  if (status && (STATUSES as readonly string[]).includes(status)) f.status = status as EventStatus;
  for (const k of ['since', 'until'] as const) {
    const v = p.get(k);
    if (v && v.length <= MAX_TIME && Number.isFinite(Date.parse(v))) f[k] = new Date(Date.parse(v)).toISOString();
  }
  const q = p.get('q');
  if (q && q.length <= MAX_Q) f.q = q;
  return f;
}

/** The query string of filters (without `?`; keys in a fixed order, empty values left out). */
export function filtersQuery(f: EventFilters): string {
  const p = new URLSearchParams();
  for (const k of FILTER_KEYS) {
    const v = f[k];
    if (v) p.set(k, v);
  }
  return p.toString();
}

/** GET /events's path for a site, its filters and a page. */
export function eventsPath(site: string, f: EventFilters, opts: { cursor?: string | null; limit?: number } = {}): string {
  const p = new URLSearchParams({ site });
  for (const k of FILTER_KEYS) {
    const v = f[k];
    if (v) p.set(k, v);
  }
  if (opts.limit) p.set('limit', String(opts.limit));
  if (opts.cursor) p.set('cursor', opts.cursor);
  return `/events?${p.toString()}`;
}

/** An ISO time as a datetime-local input's value (the browser's local time, to the minute). */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (!Number.isFinite(d.getTime())) return '';
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** A datetime-local input's value (local time) as an ISO time; undefined when empty or invalid. */
export function fromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const t = new Date(value).getTime();
  return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
}

/** Newest (first seen) first, as GET /events lists them. */
function newerFirst(a: SafetyEvent, b: SafetyEvent): number {
  const d = Date.parse(b.first_seen) - Date.parse(a.first_seen);
  return d !== 0 ? d : b.id - a.id;
}

/**
 * The newest `max` events of a site, each in its latest state. The first page and the live feed
 * may overlap and arrive in either order: a state older than the one held (a lower `seq`) is
 * dropped, so an event never goes back to a state it has left.
 */
export class EventList {
  private readonly byId = new Map<number, SafetyEvent>();

  constructor(private readonly max: number) {}

  /** 'new' or 'updated' when it changed the list, 'stale' when it was older than what is held (or fell off the end). */
  upsert(ev: SafetyEvent): 'new' | 'updated' | 'stale' {
    const held = this.byId.get(ev.id);
    if (held && held.seq >= ev.seq) return 'stale';
    this.byId.set(ev.id, ev);
    if (!held && this.byId.size > this.max) {
      const oldest = this.items().at(-1)!;
      this.byId.delete(oldest.id);
      if (oldest.id === ev.id) return 'stale';
    }
    return held ? 'updated' : 'new';
  }

  get(id: number): SafetyEvent | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }

  items(): SafetyEvent[] {
    return [...this.byId.values()].sort(newerFirst);
  }
}
