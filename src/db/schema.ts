// Table types of the service's database (SQLite or PostgreSQL, one schema: see migrations.ts): the
// accounts and the safety events.
// Times: users/sites use ISO-8601 UTC text (sorts like time in both dialects); sessions, events and
// webhooks use epoch milliseconds. Booleans are integers 0/1 (better-sqlite3 cannot bind booleans).
// PostgreSQL returns bigint as a string: read those columns with Number().
import type { Generated } from 'kysely';

export type DbDialect = 'sqlite' | 'postgres';

export interface UsersTable {
  id: Generated<number>;
  username: string;
  password_hash: string;
  role: string;
  is_active: number;
  created_at: string;
  updated_at: string;
}

export interface SitesTable {
  id: Generated<number>;
  name: string;
  created_at: string;
  updated_at: string;
}

export interface UserSitesTable {
  user_id: number;
  site_id: number;
}

/** Sessions (always here, never in Redis: see auth/sessions.ts). */
export interface SessionsTable {
  jti: string;
  user_id: number;
  refresh_jti: string;
  /** Epoch ms; PostgreSQL returns bigint as a string, so read it with Number(). */
  expires_at: number | string;
  created_at: number | string;
}

/** Failed-login counters when Redis is not configured (auth/login-limiter.ts). */
export interface LoginFailuresTable {
  /** `u:<username>` or `ip:<address>`. */
  key: string;
  failures: number;
  /** Epoch ms at which the window ends; bigint in PostgreSQL (read with Number()). */
  reset_at: number | string;
}

type Big = number | string;

/** One safety event: a warning on a camera, from its first frame to its last within the quiet period. */
export interface EventsTable {
  id: Generated<number>;
  site: string;
  camera: string;
  /** The warning code, or the sentence of an older producer. */
  code: string;
  kind: 'code' | 'sentence';
  /** English words at the peak count (events/catalogue.ts). */
  words: string;
  /** The count in the last frame, and the highest. */
  count: number;
  peak_count: number;
  first_seen: Big;
  last_seen: Big;
  frames_seen: Big;
  /** Frame store entry ids of the first and the last frame. */
  first_frame_id: string;
  last_frame_id: string;
  /** 1 when the first frame is stored as a snapshot; 1 when a later frame with a higher count is. */
  has_snapshot: number;
  has_peak_snapshot: number;
  status: string;
  note: string | null;
  reviewed_by: string | null;
  reviewed_at: Big | null;
  /** The change number that created the row, and the one of its latest change (the live feed's cursor). */
  created_seq: Big;
  change_seq: Big;
}

export interface EventSnapshotsTable {
  event_id: number;
  /** 'first' frame, or the 'peak' one (highest count) when it is another frame. */
  kind: 'first' | 'peak';
  content_type: string;
  image: Buffer;
  count: number;
  taken_at: Big;
}

/** The review audit: who changed an event's status or noted something, when. */
export interface EventReviewsTable {
  id: Generated<number>;
  event_id: number;
  at: Big;
  user_id: number | null;
  username: string;
  from_status: string;
  to_status: string;
  note: string | null;
}

export interface EventsStateTable {
  name: string;
  value: Big;
}

export interface WebhooksTable {
  id: Generated<number>;
  url: string;
  /** JSON list of site names; [] = every site. */
  sites: string;
  secret: string;
  enabled: number;
  created_at: Big;
  updated_at: Big;
  last_success_at: Big | null;
  last_error: string | null;
  last_error_at: Big | null;
}

export interface WebhookDeliveriesTable {
  id: Generated<number>;
  webhook_id: number;
  event_id: number;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  created_at: Big;
  next_attempt_at: Big;
  /** While an instance is sending it: nobody else takes it before this. */
  lease_until: Big | null;
  last_error: string | null;
  last_status: number | null;
  finished_at: Big | null;
}

export interface AccountsDb {
  users: UsersTable;
  sites: SitesTable;
  user_sites: UserSitesTable;
  sessions: SessionsTable;
  login_failures: LoginFailuresTable;
  events: EventsTable;
  event_snapshots: EventSnapshotsTable;
  event_reviews: EventReviewsTable;
  events_state: EventsStateTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
}
