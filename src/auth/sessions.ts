// Where sessions live (DESIGN.md §2 "Tokens"): the accounts database, always, so that neither a
// restart nor a Redis restart or flush logs anybody out (with several instances, Redis only carries
// the news of an ended session). A session is the id in its tokens' subject.jti, its user, the id of
// its current refresh token and when it ends.
import type { Kysely } from 'kysely';
import type { AccountsDb } from '../db/schema.js';
import { guarded } from '../db/errors.js';

export interface SessionRecord {
  id: string;
  userId: number;
  /** The id (`jti` claim) of the one refresh token of this session that may still be used. */
  refreshId: string;
  /** Epoch ms; the session is over after this. */
  expiresAt: number;
}

/** rotated: done; reused: the presented refresh token was already retired; missing: no such live session. */
export type RotateResult = 'rotated' | 'reused' | 'missing';

export interface SessionStore {
  create(s: SessionRecord): Promise<void>;
  /** The live session, or null when it is unknown, ended or expired. */
  get(id: string): Promise<SessionRecord | null>;
  /** Which of `ids` are live sessions (one batched lookup). */
  live(ids: string[]): Promise<Set<string>>;
  /** Replaces the refresh id if it still is `expected` (compare-and-set), extending the session. */
  rotate(id: string, expected: string, next: string, expiresAt: number): Promise<RotateResult>;
  /** Ends one session; returns it if it was live. */
  delete(id: string): Promise<SessionRecord | null>;
  /** Ends every session of a user (but `exceptId`); returns the ids ended. */
  deleteForUser(userId: number, exceptId?: string): Promise<string[]>;
  /** Ids of a user's sessions (before deleting the user, whose SQL rows then cascade). */
  idsForUser(userId: number): Promise<string[]>;
  /** Forgets expired sessions. */
  purgeExpired(): Promise<number>;
}

const CHUNK = 500;

function chunks<T>(xs: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += CHUNK) out.push(xs.slice(i, i + CHUNK));
  return out;
}

export class SqlSessionStore implements SessionStore {
  constructor(private readonly db: Kysely<AccountsDb>) {}

  create(s: SessionRecord): Promise<void> {
    return guarded(async () => {
      await this.db
        .insertInto('sessions')
        .values({ jti: s.id, user_id: s.userId, refresh_jti: s.refreshId, expires_at: s.expiresAt, created_at: Date.now() })
        .execute();
    });
  }

  get(id: string): Promise<SessionRecord | null> {
    return guarded(async () => {
      const row = await this.db.selectFrom('sessions').select(['jti', 'user_id', 'refresh_jti', 'expires_at']).where('jti', '=', id).executeTakeFirst();
      if (!row) return null;
      const rec = { id: row.jti, userId: Number(row.user_id), refreshId: row.refresh_jti, expiresAt: Number(row.expires_at) };
      return rec.expiresAt > Date.now() ? rec : null;
    });
  }

  live(ids: string[]): Promise<Set<string>> {
    return guarded(async () => {
      const out = new Set<string>();
      const now = Date.now();
      for (const part of chunks(ids)) {
        const rows = await this.db.selectFrom('sessions').select('jti').where('jti', 'in', part).where('expires_at', '>', now).execute();
        for (const r of rows) out.add(r.jti);
      }
      return out;
    });
  }

  rotate(id: string, expected: string, next: string, expiresAt: number): Promise<RotateResult> {
    return guarded(async () => {
      const res = await this.db
        .updateTable('sessions')
        .set({ refresh_jti: next, expires_at: expiresAt })
        .where('jti', '=', id)
        .where('refresh_jti', '=', expected)
        .where('expires_at', '>', Date.now())
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) return 'rotated';
      return (await this.get(id)) ? 'reused' : 'missing';
    });
  }

  delete(id: string): Promise<SessionRecord | null> {
    return guarded(async () => {
      const rec = await this.get(id);
      const res = await this.db.deleteFrom('sessions').where('jti', '=', id).executeTakeFirst();
      return Number(res.numDeletedRows) > 0 ? rec : null;
    });
  }

  deleteForUser(userId: number, exceptId?: string): Promise<string[]> {
    return guarded(async () => {
      let q = this.db.deleteFrom('sessions').where('user_id', '=', userId);
      if (exceptId) q = q.where('jti', '!=', exceptId);
      const rows = await q.returning('jti').execute();
      return rows.map((r) => r.jti);
    });
  }

  idsForUser(userId: number): Promise<string[]> {
    return guarded(async () => {
      const rows = await this.db.selectFrom('sessions').select('jti').where('user_id', '=', userId).execute();
      return rows.map((r) => r.jti);
    });
  }

  purgeExpired(): Promise<number> {
    return guarded(async () => {
      const res = await this.db.deleteFrom('sessions').where('expires_at', '<=', Date.now()).executeTakeFirst();
      return Number(res.numDeletedRows);
    });
  }
}
