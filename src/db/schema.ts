// Table types of the accounts database (SQLite or PostgreSQL, one schema: see migrations.ts).
// Times: users/sites use ISO-8601 UTC text (sorts like time in both dialects); sessions use epoch
// milliseconds. Booleans are integers 0/1 (better-sqlite3 cannot bind booleans).
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

export interface AccountsDb {
  users: UsersTable;
  sites: SitesTable;
  user_sites: UserSitesTable;
  sessions: SessionsTable;
  login_failures: LoginFailuresTable;
}
