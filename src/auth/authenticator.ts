// Who is asking: the contract every route uses (HTTP guards, WebSocket routes) and its one
// implementation over tokens, sessions and users. Users are cached per process (LRU, 50k) like
// sessions (sessions.ts), so that checking a token of a known session costs no round trip; pushes
// (account-events.ts) drop what changed at once, and an age limit on cached entries catches what a
// push could not tell.
import { Errors } from '../errors.js';
import { databaseError } from '../error-mapping.js';
import { Lru } from '../lib/lru.js';
import type { Logger } from '../lib/log.js';
import { principalOf, type Principal, type UserRecord } from './principal.js';
import type { TokenService } from './tokens.js';
import type { Sessions } from './sessions.js';
import type { EventBus } from './account-events.js';
import { AccessWatch, type AccessLoss } from './access-watch.js';

export type { AccessLoss } from './access-watch.js';

export interface Authenticator {
  /**
   * Verifies an access token (HS256 signature, exp/nbf, `type: "access"`, a live session, an active
   * user whose username the token names) and returns who it belongs to. Throws a catalogue error: MISSING_TOKEN, INVALID_TOKEN,
   * TOKEN_EXPIRED or TOKEN_NOT_ACTIVE (503 DB_UNAVAILABLE when a session cannot be looked up).
   */
  authenticate(token: string | undefined): Promise<Principal>;
  /**
   * Keeps watching an open socket's right to stay open: `onLost('session')` when its session ends or
   * its user is deactivated; `onLost('access')` when `stillAllowed(fresh principal)` turns false
   * (role or sites changed). Called at most once, within a few seconds. Returns a stop function.
   */
  watch(principal: Principal, stillAllowed: (p: Principal) => boolean, onLost: (why: AccessLoss) => void): () => void;
}

/** Where the authenticator reads users (users/repository.ts). */
export interface UserSource {
  userRecords(ids: number[]): Promise<Map<number, UserRecord>>;
}

export interface AuthenticatorOptions {
  recheckMs: number;
  /** A cached user older than this is looked up again on its next use. */
  maxAgeMs: number;
  maxUsers?: number;
}

export class SessionAuthenticator implements Authenticator {
  private readonly users: Lru<number, { user: UserRecord | null; at: number }>;
  private readonly inflight = new Map<number, Promise<UserRecord | null>>();
  /** Bumped whenever cached users are invalidated: a lookup started before must not be cached. */
  private gen = 0;
  private readonly watches: AccessWatch;

  constructor(
    private readonly tokens: TokenService,
    private readonly sessions: Sessions,
    private readonly source: UserSource,
    bus: EventBus,
    private readonly opts: AuthenticatorOptions,
    log: Logger,
  ) {
    this.users = new Lru(opts.maxUsers ?? 50_000);
    this.watches = new AccessWatch({
      liveSessions: (ids) => sessions.live(ids),
      loadUsers: (ids) => this.loadUsers(ids),
      recheckMs: opts.recheckMs,
      log,
    });
    bus.subscribe((e) => {
      if (e.type === 'sessions-ended') {
        for (const sid of e.sessionIds) this.watches.sessionEnded(sid);
      } else {
        this.gen++;
        for (const id of e.userIds) this.users.delete(id);
        void this.watches.usersChanged(e.userIds);
      }
    });
    bus.onResync(() => {
      this.gen++;
      this.users.clear();
      void this.watches.recheck();
    });
  }

  async authenticate(token: string | undefined): Promise<Principal> {
    if (!token) throw new Errors.MISSING_TOKEN();
    const claims = await this.tokens.verify(token, 'access');
    const session = await this.sessions.validate(claims.sessionId);
    if (!session) throw new Errors.TOKEN_NOT_ACTIVE();
    const user = await this.user(session.userId);
    if (!user || !user.isActive) throw new Errors.TOKEN_NOT_ACTIVE();
    // The token must name its session's user: claims that disagree with the session are forged or
    // mixed, never honoured as either. (Renaming a user ends their sessions: users/service.ts.)
    if (claims.username !== user.username) throw new Errors.INVALID_TOKEN();
    return principalOf(user, session.id);
  }

  watch(principal: Principal, stillAllowed: (p: Principal) => boolean, onLost: (why: AccessLoss) => void): () => void {
    return this.watches.watch(principal, stillAllowed, onLost, this.sessions.isEnded(principal.sessionId));
  }

  /** Open sockets being watched (metrics, tests). */
  get watching(): number {
    return this.watches.count;
  }

  /** The user's principal data, from the cache when fresh, else from the database (once). */
  private user(id: number): Promise<UserRecord | null> {
    const c = this.users.get(id);
    if (c && Date.now() - c.at < this.opts.maxAgeMs) return Promise.resolve(c.user);
    let p = this.inflight.get(id);
    if (!p) {
      p = this.loadUsers([id])
        .then((m) => m.get(id) ?? null)
        .finally(() => this.inflight.delete(id));
      this.inflight.set(id, p);
    }
    return p;
  }

  /** Reads users fresh and caches what it read (unless they changed meanwhile). */
  private async loadUsers(ids: number[]): Promise<Map<number, UserRecord>> {
    const gen = this.gen;
    let fresh: Map<number, UserRecord>;
    try {
      fresh = await this.source.userRecords(ids);
    } catch (err) {
      throw databaseError(err);
    }
    if (gen === this.gen) {
      const now = Date.now();
      for (const id of ids) this.users.set(id, { user: fresh.get(id) ?? null, at: now });
    }
    return fresh;
  }

  close(): void {
    this.watches.close();
  }
}
