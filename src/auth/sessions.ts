// Sessions (DESIGN.md §2 "Tokens"), their store and their whole lifecycle in one place:
// - Every login (and the CLI's `token`) starts a session: a random id (the tokens' subject.jti) and
//   the id of its current refresh token. Rows live in the accounts database, always, so that
//   neither a restart nor a Redis restart or flush logs anybody out.
// - POST /refresh rotates: the presented refresh token must be the session's current one; it is
//   retired and a new pair is signed (the session is extended to a full refresh lifetime). A retired
//   refresh token presented again means it was copied: the whole session ends (reuse detection).
// - Ending sessions publishes a push (account-events.ts) so that every process drops them.
// - validate() answers from this process's cache of live sessions (LRU, 100k) and of ended ones
//   (tombstones), so that checking a token of a known session costs no database round trip; a miss
//   is looked up once (concurrent misses for the same id share one lookup).
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { AccountsDb } from '../db/schema.js';
import { Errors } from '../errors.js';
import { databaseError, mapped } from '../error-mapping.js';
import { chunks } from '../lib/chunks.js';
import { Lru } from '../lib/lru.js';
import type { Logger } from '../lib/log.js';
import type { TokenService } from './tokens.js';
import type { EventBus } from './account-events.js';

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

export interface TokenPair {
  access_token: string;
  refresh_token: string;
}

type Db = Kysely<AccountsDb> | Transaction<AccountsDb>;

/** The `sessions` table. */
export class SessionStore {
  constructor(private readonly db: Kysely<AccountsDb>) {}

  create(s: SessionRecord): Promise<void> {
    return mapped(databaseError, async () => {
      await this.db
        .insertInto('sessions')
        .values({ jti: s.id, user_id: s.userId, refresh_jti: s.refreshId, expires_at: s.expiresAt, created_at: Date.now() })
        .execute();
    });
  }

  /** The live session, or null when it is unknown, ended or expired. */
  get(id: string): Promise<SessionRecord | null> {
    return mapped(databaseError, async () => {
      const row = await this.db.selectFrom('sessions').select(['jti', 'user_id', 'refresh_jti', 'expires_at']).where('jti', '=', id).executeTakeFirst();
      if (!row) return null;
      const rec = { id: row.jti, userId: Number(row.user_id), refreshId: row.refresh_jti, expiresAt: Number(row.expires_at) };
      return rec.expiresAt > Date.now() ? rec : null;
    });
  }

  /** Which of `ids` are live sessions (batched lookups). */
  live(ids: string[]): Promise<Set<string>> {
    return mapped(databaseError, async () => {
      const out = new Set<string>();
      const now = Date.now();
      for (const part of chunks(ids)) {
        const rows = await this.db.selectFrom('sessions').select('jti').where('jti', 'in', part).where('expires_at', '>', now).execute();
        for (const r of rows) out.add(r.jti);
      }
      return out;
    });
  }

  /** Replaces the refresh id if it still is `expected` (compare-and-set), extending the session. */
  rotate(id: string, expected: string, next: string, expiresAt: number): Promise<RotateResult> {
    return mapped(databaseError, async () => {
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

  /** Ends one session. */
  delete(id: string): Promise<void> {
    return mapped(databaseError, async () => {
      await this.db.deleteFrom('sessions').where('jti', '=', id).execute();
    });
  }

  /** Ends every session of a user (but `exceptId`); returns the ids ended. */
  deleteForUser(userId: number, exceptId?: string): Promise<string[]> {
    return mapped(databaseError, async () => {
      let q = this.db.deleteFrom('sessions').where('user_id', '=', userId);
      if (exceptId) q = q.where('jti', '!=', exceptId);
      const rows = await q.returning('jti').execute();
      return rows.map((r) => r.jti);
    });
  }

  /** Ids of a user's sessions; `trx` reads them inside the caller's transaction. */
  async idsForUser(userId: number, trx: Db = this.db): Promise<string[]> {
    const rows = await trx.selectFrom('sessions').select('jti').where('user_id', '=', userId).execute();
    return rows.map((r) => r.jti);
  }

  /** Forgets expired sessions; returns how many. */
  purgeExpired(): Promise<number> {
    return mapped(databaseError, async () => {
      const res = await this.db.deleteFrom('sessions').where('expires_at', '<=', Date.now()).executeTakeFirst();
      return Number(res.numDeletedRows);
    });
  }
}

/** How often expired sessions are deleted. */
const PURGE_EVERY_MS = 10 * 60 * 1000;

export interface SessionsOptions {
  /** A cached session older than this is looked up again on its next use. */
  maxAgeMs: number;
  maxCached?: number;
  maxTombstones?: number;
}

export class Sessions {
  private readonly cache: Lru<string, { rec: SessionRecord; at: number }>;
  private readonly tombstones: Lru<string, true>;
  private readonly inflight = new Map<string, Promise<SessionRecord | null>>();
  /** Bumped when the cache is dropped (resync): a lookup started before must not be cached. */
  private gen = 0;
  private readonly purge: NodeJS.Timeout;

  constructor(
    readonly store: SessionStore,
    private readonly tokens: TokenService,
    private readonly bus: EventBus,
    private readonly opts: SessionsOptions,
    private readonly log: Logger,
  ) {
    this.cache = new Lru(opts.maxCached ?? 100_000);
    this.tombstones = new Lru(opts.maxTombstones ?? 50_000);
    bus.subscribe((e) => {
      if (e.type === 'sessions-ended') for (const id of e.sessionIds) this.forget(id);
    });
    bus.onResync(() => {
      this.gen++;
      this.cache.clear();
    });
    const purgeExpired = () =>
      store.purgeExpired().then(
        (n) => n > 0 && log.debug({ sessions: n }, 'expired sessions deleted'),
        (err: unknown) => log.warn({ err: (err as Error).message }, 'could not delete expired sessions'),
      );
    void purgeExpired();
    this.purge = setInterval(() => void purgeExpired(), PURGE_EVERY_MS);
    this.purge.unref();
  }

  // ---------------------------------------------------------------- validating

  /** The live session, from the cache when it is fresh, else from the store (once). */
  validate(id: string): Promise<SessionRecord | null> {
    if (this.tombstones.has(id)) return Promise.resolve(null);
    const now = Date.now();
    const c = this.cache.get(id);
    if (c && now - c.at < this.opts.maxAgeMs && c.rec.expiresAt > now) return Promise.resolve(c.rec);
    let p = this.inflight.get(id);
    if (!p) {
      const gen = this.gen;
      p = this.store
        .get(id)
        .then((rec) => {
          // A push that arrived while the lookup was under way wins over its (older) answer.
          if (this.tombstones.has(id)) return null;
          if (gen === this.gen) {
            if (rec) this.cache.set(id, { rec, at: Date.now() });
            else this.cache.delete(id);
          }
          // Ids are random and a token is signed only after its session exists: a session that is
          // not there now never will be, so later tokens of it are refused without a lookup.
          if (!rec) this.tombstones.set(id, true);
          return rec;
        })
        .finally(() => this.inflight.delete(id));
      this.inflight.set(id, p);
    }
    return p;
  }

  /** True when this process knows the session has ended. */
  isEnded(id: string): boolean {
    return this.tombstones.has(id);
  }

  /** Which of `ids` are still live (the periodic recheck of open sockets). */
  live(ids: string[]): Promise<Set<string>> {
    return this.store.live(ids);
  }

  private remember(rec: SessionRecord): void {
    if (!this.tombstones.has(rec.id)) this.cache.set(rec.id, { rec, at: Date.now() });
  }

  private forget(id: string): void {
    this.tombstones.set(id, true);
    this.cache.delete(id);
  }

  // ---------------------------------------------------------------- lifecycle

  private async sign(username: string, s: SessionRecord): Promise<TokenPair> {
    const [access_token, refresh_token] = await Promise.all([
      this.tokens.sign('access', username, s.id, { expiresAt: s.expiresAt }),
      this.tokens.sign('refresh', username, s.id, { refreshId: s.refreshId, expiresAt: s.expiresAt }),
    ]);
    return { access_token, refresh_token };
  }

  async start(user: { id: number; username: string }): Promise<TokenPair & { sessionId: string }> {
    const s: SessionRecord = { id: randomUUID(), userId: user.id, refreshId: randomUUID(), expiresAt: Date.now() + this.tokens.refreshTtlMs };
    await this.store.create(s);
    this.remember(s);
    return { ...(await this.sign(user.username, s)), sessionId: s.id };
  }

  /**
   * Rotates a refresh token. `currentUser` reads the session's user fresh from the database (it may
   * have been renamed or deactivated). Throws INVALID_TOKEN (bad token, or a retired one: the
   * session is then ended), TOKEN_EXPIRED, TOKEN_NOT_ACTIVE (session over, user deactivated).
   */
  async refresh(token: string, currentUser: (id: number) => Promise<{ username: string; active: boolean } | null>): Promise<TokenPair> {
    const claims = await this.tokens.verify(token, 'refresh');
    const session = await this.store.get(claims.sessionId);
    if (!session) throw new Errors.TOKEN_NOT_ACTIVE();
    if (session.refreshId !== claims.refreshId) return this.reused(session);
    const user = await currentUser(session.userId);
    if (!user || !user.active) {
      await this.end(session.id);
      throw new Errors.TOKEN_NOT_ACTIVE();
    }
    if (user.username !== claims.username) throw new Errors.INVALID_TOKEN(); // see Authenticator.authenticate
    const next: SessionRecord = { ...session, refreshId: randomUUID(), expiresAt: Date.now() + this.tokens.refreshTtlMs };
    const r = await this.store.rotate(session.id, claims.refreshId as string, next.refreshId, next.expiresAt);
    if (r === 'missing') throw new Errors.TOKEN_NOT_ACTIVE();
    // Another request rotated it first with the same token: the token was used twice.
    if (r === 'reused') return this.reused(session);
    this.remember(next);
    return this.sign(user.username, next);
  }

  private async reused(session: SessionRecord): Promise<never> {
    this.log.warn({ userId: session.userId, sessionId: session.id }, 'retired refresh token presented again: ending its session');
    await this.end(session.id);
    throw new Errors.INVALID_TOKEN();
  }

  /** Gives the session a new refresh token (retiring the old one) without ending it. */
  async renew(sessionId: string, username: string): Promise<TokenPair> {
    const session = await this.store.get(sessionId);
    if (!session) throw new Errors.TOKEN_NOT_ACTIVE();
    const next: SessionRecord = { ...session, refreshId: randomUUID(), expiresAt: Date.now() + this.tokens.refreshTtlMs };
    const r = await this.store.rotate(session.id, session.refreshId, next.refreshId, next.expiresAt);
    if (r !== 'rotated') throw new Errors.TOKEN_NOT_ACTIVE();
    this.remember(next);
    return this.sign(username, next);
  }

  /** Ends one session (logout, refresh reuse). */
  async end(sessionId: string): Promise<void> {
    await this.store.delete(sessionId);
    await this.announceEnded([sessionId]);
  }

  /** Ends every session of a user but `exceptId` (password change, deactivation). */
  async endAllForUser(userId: number, exceptId?: string): Promise<string[]> {
    const ids = await this.store.deleteForUser(userId, exceptId);
    await this.announceEnded(ids);
    return ids;
  }

  /** Tells every process that sessions are gone whose rows the database already deleted (cascade). */
  async announceEnded(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.bus.publish({ type: 'sessions-ended', sessionIds: ids });
  }

  close(): void {
    clearInterval(this.purge);
  }
}
