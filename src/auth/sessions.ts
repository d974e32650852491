// Where sessions live (DESIGN.md §2 "Tokens"): Redis when REDIS_URL is set (every instance agrees,
// expiry by TTL), the accounts database otherwise (a restart logs nobody out). A session is the id in
// its tokens' subject.jti, its user, the id of its current refresh token and when it ends.
import type { Kysely } from 'kysely';
import type { ChainableCommander, Redis } from 'ioredis';
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
  readonly kind: 'redis' | 'sql';
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
  /** Forgets expired sessions (SQL; Redis expires them itself). */
  purgeExpired(): Promise<number>;
  ping(): Promise<void>;
}

const CHUNK = 500;

/** Runs a MULTI or pipeline and throws the first error of its commands (ioredis only reports them). */
async function execOk(p: ChainableCommander): Promise<unknown[]> {
  const res = (await p.exec()) ?? [];
  return res.map(([err, v]) => {
    if (err) throw err;
    return v;
  });
}
function chunks<T>(xs: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += CHUNK) out.push(xs.slice(i, i + CHUNK));
  return out;
}

export class SqlSessionStore implements SessionStore {
  readonly kind = 'sql' as const;
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

  ping(): Promise<void> {
    return Promise.resolve();
  }
}

// Compare-and-set of the refresh id; touches only KEYS[1] (fine on a Redis Cluster).
const ROTATE = `
local rid = redis.call('HGET', KEYS[1], 'rid')
if not rid then return 0 end
if rid ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[1], 'rid', ARGV[2], 'exp', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
`;

/**
 * Keys (under REDIS_PREFIX): `session:<id>` a hash {uid, rid, exp} expiring with the session, and
 * `user-sessions:<user id>` the set of a user's session ids (like the old backend's per-user jti
 * list), kept as long as the longest session could live. Each command touches one key.
 */
export class RedisSessionStore implements SessionStore {
  readonly kind = 'redis' as const;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly refreshTtlMs: number,
  ) {}

  private key(id: string): string {
    return `${this.prefix}session:${id}`;
  }

  private userKey(userId: number): string {
    return `${this.prefix}user-sessions:${userId}`;
  }

  private static parse(id: string, h: Record<string, string> | (string | null)[]): SessionRecord | null {
    const [uid, rid, exp] = Array.isArray(h) ? h : [h.uid, h.rid, h.exp];
    if (!uid || !rid || !exp) return null;
    const rec = { id, userId: Number(uid), refreshId: rid, expiresAt: Number(exp) };
    return rec.expiresAt > Date.now() ? rec : null;
  }

  create(s: SessionRecord): Promise<void> {
    return guarded(async () => {
      // The user's index first: a session must never exist that "end all of a user's sessions"
      // (password change, deactivation) cannot find.
      await execOk(this.redis.multi().sadd(this.userKey(s.userId), s.id).pexpire(this.userKey(s.userId), this.refreshTtlMs + 60_000));
      await execOk(
        this.redis
          .multi()
          .hset(this.key(s.id), 'uid', String(s.userId), 'rid', s.refreshId, 'exp', String(s.expiresAt))
          .pexpireat(this.key(s.id), s.expiresAt),
      );
    });
  }

  get(id: string): Promise<SessionRecord | null> {
    return guarded(async () => RedisSessionStore.parse(id, await this.redis.hmget(this.key(id), 'uid', 'rid', 'exp')));
  }

  live(ids: string[]): Promise<Set<string>> {
    return guarded(async () => {
      const out = new Set<string>();
      for (const part of chunks(ids)) {
        const p = this.redis.pipeline();
        for (const id of part) p.hmget(this.key(id), 'uid', 'rid', 'exp');
        (await execOk(p)).forEach((v, i) => {
          if (RedisSessionStore.parse(part[i], v as (string | null)[])) out.add(part[i]);
        });
      }
      return out;
    });
  }

  rotate(id: string, expected: string, next: string, expiresAt: number): Promise<RotateResult> {
    return guarded(async () => {
      const r = Number(await this.redis.eval(ROTATE, 1, this.key(id), expected, next, String(expiresAt)));
      if (r === 1) {
        const s = await this.get(id);
        if (s) await this.redis.pexpire(this.userKey(s.userId), this.refreshTtlMs + 60_000);
        return 'rotated';
      }
      return r === -1 ? 'reused' : 'missing';
    });
  }

  delete(id: string): Promise<SessionRecord | null> {
    return guarded(async () => {
      const rec = await this.get(id);
      const n = await this.redis.del(this.key(id));
      if (rec) await this.redis.srem(this.userKey(rec.userId), id);
      return n > 0 ? rec : null;
    });
  }

  deleteForUser(userId: number, exceptId?: string): Promise<string[]> {
    return guarded(async () => {
      const ids = (await this.redis.smembers(this.userKey(userId))).filter((id) => id !== exceptId);
      if (ids.length === 0) return [];
      const p = this.redis.pipeline();
      for (const id of ids) p.del(this.key(id));
      p.srem(this.userKey(userId), ...ids);
      await execOk(p);
      return ids;
    });
  }

  idsForUser(userId: number): Promise<string[]> {
    return guarded(() => this.redis.smembers(this.userKey(userId)));
  }

  async purgeExpired(): Promise<number> {
    return 0;
  }

  ping(): Promise<void> {
    return guarded(async () => {
      await this.redis.ping();
    });
  }
}
