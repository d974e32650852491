// The Authenticator (authenticator.ts) over sessions and users, with this process's caches:
// - live sessions (LRU, 100k) and the users they belong to (LRU, 50k), so that checking a token of a
//   cached session costs no database or Redis round trip; a miss is looked up once (concurrent
//   misses for the same id share one lookup);
// - ended sessions (tombstones), so that a revoked token presented again is refused without a lookup;
// - pushes (events.ts) drop what changed at once and close the sockets concerned;
// - a periodic recheck (every accessRecheckMs) of the sessions and users that have open sockets,
//   and an age limit on cache entries, catch what a push could not tell (another process without
//   Redis, such as the CLI on the same SQLite file, or a Redis subscription that was down).
import type { Authenticator, AccessLoss } from './authenticator.js';
import type { Principal } from './principal.js';
import type { TokenService } from './tokens.js';
import type { SessionRecord, SessionStore } from './sessions.js';
import type { AccountEvent, EventBus } from './events.js';
import type { UserRecord } from '../users/repository.js';
import { Lru } from './lru.js';
import { Errors } from '../errors.js';
import { mapStoreError } from '../db/errors.js';

export interface UserSource {
  userRecords(ids: number[]): Promise<Map<number, UserRecord>>;
}

export interface AuthLog {
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface SessionAuthenticatorOptions {
  recheckMs: number;
  /** A cached session or user older than this is looked up again on its next use. */
  maxAgeMs: number;
  maxSessions?: number;
  maxUsers?: number;
  maxTombstones?: number;
}

interface Watch {
  principal: Principal;
  stillAllowed: (p: Principal) => boolean;
  onLost: (why: AccessLoss) => void;
  done: boolean;
}

interface CachedSession {
  rec: SessionRecord;
  at: number;
}

interface CachedUser {
  user: UserRecord | null;
  at: number;
}

export class SessionAuthenticator implements Authenticator {
  private readonly sessions: Lru<string, CachedSession>;
  private readonly tombstones: Lru<string, true>;
  private readonly users: Lru<number, CachedUser>;
  private readonly inflightSessions = new Map<string, Promise<SessionRecord | null>>();
  private readonly inflightUsers = new Map<number, Promise<UserRecord | null>>();
  /** Bumped whenever cached users are invalidated: a lookup started before must not be cached. */
  private userGen = 0;
  /** Bumped when every cache is dropped (resync). */
  private sessionGen = 0;

  private readonly bySession = new Map<string, Set<Watch>>();
  private readonly byUser = new Map<number, Set<Watch>>();
  private timer: NodeJS.Timeout | null = null;
  private rechecking: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly tokens: TokenService,
    private readonly store: SessionStore,
    private readonly source: UserSource,
    bus: EventBus,
    private readonly opts: SessionAuthenticatorOptions,
    private readonly log: AuthLog,
  ) {
    this.sessions = new Lru(opts.maxSessions ?? 100_000);
    this.tombstones = new Lru(opts.maxTombstones ?? 50_000);
    this.users = new Lru(opts.maxUsers ?? 50_000);
    bus.subscribe((e) => this.onEvent(e));
    bus.onResync(() => this.resync());
  }

  // ---------------------------------------------------------------- authenticate

  async authenticate(token: string | undefined): Promise<Principal> {
    if (!token) throw new Errors.MISSING_TOKEN();
    const claims = await this.tokens.verify(token, 'access');
    const session = await this.session(claims.sessionId);
    if (!session) throw new Errors.TOKEN_NOT_ACTIVE();
    const user = await this.user(session.userId);
    if (!user || !user.isActive) throw new Errors.TOKEN_NOT_ACTIVE();
    return principalOf(user, session.id);
  }

  /** The live session, from the cache when it is fresh, else from the store (once). */
  async session(id: string): Promise<SessionRecord | null> {
    if (this.tombstones.has(id)) return null;
    const now = Date.now();
    const c = this.sessions.get(id);
    if (c && now - c.at < this.opts.maxAgeMs && c.rec.expiresAt > now) return c.rec;
    let p = this.inflightSessions.get(id);
    if (!p) {
      const gen = this.sessionGen;
      p = this.store
        .get(id)
        .then((rec) => {
          // A push that arrived while the lookup was under way wins over its (older) answer.
          if (this.tombstones.has(id)) return null;
          if (gen === this.sessionGen) {
            if (rec) this.sessions.set(id, { rec, at: Date.now() });
            else this.sessions.delete(id);
          }
          // Ids are random and a token is signed only after its session exists: a session that is
          // not there now never will be, so later tokens of it are refused without a lookup.
          if (!rec) this.tombstones.set(id, true);
          return rec;
        })
        .finally(() => this.inflightSessions.delete(id));
      this.inflightSessions.set(id, p);
    }
    return p;
  }

  /** Records a session this process just created or rotated (no lookup needed for its tokens). */
  noteSession(rec: SessionRecord): void {
    if (!this.tombstones.has(rec.id)) this.sessions.set(rec.id, { rec, at: Date.now() });
  }

  /** The user's principal data, from the cache when fresh, else from the database (once). */
  async user(id: number): Promise<UserRecord | null> {
    const c = this.users.get(id);
    if (c && Date.now() - c.at < this.opts.maxAgeMs) return c.user;
    let p = this.inflightUsers.get(id);
    if (!p) {
      const gen = this.userGen;
      p = this.source
        .userRecords([id])
        .then((m) => {
          const u = m.get(id) ?? null;
          if (gen === this.userGen) this.users.set(id, { user: u, at: Date.now() });
          return u;
        }, (err: unknown) => {
          throw mapStoreError(err);
        })
        .finally(() => this.inflightUsers.delete(id));
      this.inflightUsers.set(id, p);
    }
    return p;
  }

  // ---------------------------------------------------------------- pushes

  private onEvent(e: AccountEvent): void {
    if (e.type === 'sessions-ended') {
      for (const sid of e.sessionIds) this.sessionEnded(sid);
    } else {
      this.usersChanged(e.userIds);
    }
  }

  private sessionEnded(sid: string): void {
    this.tombstones.set(sid, true);
    this.sessions.delete(sid);
    const ws = this.bySession.get(sid);
    if (ws) for (const w of [...ws]) this.lose(w, 'session');
  }

  private usersChanged(ids: number[]): void {
    this.userGen++;
    for (const id of ids) this.users.delete(id);
    const watched = ids.filter((id) => this.byUser.has(id));
    if (watched.length > 0) void this.reevaluateUsers(watched);
  }

  private resync(): void {
    this.sessionGen++;
    this.userGen++;
    this.sessions.clear();
    this.users.clear();
    void this.recheck();
  }

  /** Looks the users up again and closes what they may no longer keep open. */
  private async reevaluateUsers(ids: number[]): Promise<void> {
    let fresh: Map<number, UserRecord>;
    const gen = this.userGen;
    try {
      fresh = await this.source.userRecords(ids);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not reload users after a change; the periodic recheck will retry');
      return;
    }
    const now = Date.now();
    for (const id of ids) {
      const u = fresh.get(id) ?? null;
      if (gen === this.userGen) this.users.set(id, { user: u, at: now });
      this.evaluateUser(id, u);
    }
  }

  private evaluateUser(id: number, user: UserRecord | null): void {
    const ws = this.byUser.get(id);
    if (!ws) return;
    for (const w of [...ws]) {
      if (!user || !user.isActive) {
        this.lose(w, 'session');
        continue;
      }
      let ok = false;
      try {
        ok = w.stillAllowed(principalOf(user, w.principal.sessionId));
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'stillAllowed threw; closing the socket');
      }
      if (!ok) this.lose(w, 'access');
    }
  }

  // ---------------------------------------------------------------- watch

  watch(principal: Principal, stillAllowed: (p: Principal) => boolean, onLost: (why: AccessLoss) => void): () => void {
    const w: Watch = { principal, stillAllowed, onLost, done: false };
    if (this.closed) return () => {};
    addTo(this.bySession, principal.sessionId, w);
    addTo(this.byUser, principal.userId, w);
    this.ensureTimer();
    // The session may have ended between authenticate() and watch().
    if (this.tombstones.has(principal.sessionId)) setImmediate(() => this.lose(w, 'session'));
    return () => this.unregister(w);
  }

  /** Open sockets being watched (metrics, tests). */
  get watching(): number {
    let n = 0;
    for (const s of this.bySession.values()) n += s.size;
    return n;
  }

  private unregister(w: Watch): void {
    w.done = true;
    removeFrom(this.bySession, w.principal.sessionId, w);
    removeFrom(this.byUser, w.principal.userId, w);
    if (this.bySession.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private lose(w: Watch, why: AccessLoss): void {
    if (w.done) return;
    this.unregister(w);
    try {
      w.onLost(why);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'onLost threw');
    }
  }

  private ensureTimer(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.recheck(), this.opts.recheckMs);
    this.timer.unref();
  }

  /**
   * The fallback to pushes: one batched lookup of the watched sessions and users. A database or
   * Redis outage closes nothing (the next recheck tries again).
   */
  recheck(): Promise<void> {
    if (this.rechecking) return this.rechecking;
    this.rechecking = this.doRecheck().finally(() => {
      this.rechecking = null;
    });
    return this.rechecking;
  }

  private async doRecheck(): Promise<void> {
    const sids = [...this.bySession.keys()];
    const uids = [...this.byUser.keys()];
    if (sids.length === 0) return;
    const gen = this.userGen;
    let live: Set<string>;
    let users: Map<number, UserRecord>;
    try {
      [live, users] = await Promise.all([this.store.live(sids), this.source.userRecords(uids)]);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'access recheck failed; will retry');
      return;
    }
    for (const sid of sids) {
      if (!live.has(sid)) {
        this.log.debug({ sessionId: sid }, 'recheck: session ended');
        this.sessionEnded(sid);
      }
    }
    const now = Date.now();
    for (const uid of uids) {
      const u = users.get(uid) ?? null;
      if (gen === this.userGen) this.users.set(uid, { user: u, at: now });
      this.evaluateUser(uid, u);
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.bySession.clear();
    this.byUser.clear();
  }
}

export function principalOf(user: UserRecord, sessionId: string): Principal {
  return { userId: user.id, username: user.username, role: user.role, sessionId, sites: user.sites };
}

function addTo<K>(m: Map<K, Set<Watch>>, k: K, w: Watch): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(w);
}

function removeFrom<K>(m: Map<K, Set<Watch>>, k: K, w: Watch): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(w);
  if (s.size === 0) m.delete(k);
}
