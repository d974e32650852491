// Starting, refreshing and ending sessions, and signing their tokens.
// - Every login (and the CLI's `token`) starts a session: a random id (the tokens' subject.jti) and
//   the id of its current refresh token.
// - POST /refresh rotates: the presented refresh token must be the session's current one; it is
//   retired and a new pair is signed (the session is extended to a full refresh lifetime). A retired
//   refresh token presented again means it was copied: the whole session ends (reuse detection).
// - Ending sessions publishes a push so that every process drops them and closes their sockets.
import { randomUUID } from 'node:crypto';
import { Errors } from '../errors.js';
import type { TokenService } from './tokens.js';
import type { SessionRecord, SessionStore } from './sessions.js';
import type { EventBus } from './events.js';
import type { SessionAuthenticator } from './session-authenticator.js';

export interface TokenPair {
  access_token: string;
  refresh_token: string;
}

export interface SessionLog {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

export class SessionManager {
  constructor(
    private readonly tokens: TokenService,
    private readonly store: SessionStore,
    private readonly bus: EventBus,
    private readonly auth: SessionAuthenticator,
    private readonly log: SessionLog,
  ) {}

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
    this.auth.noteSession(s);
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
    const next: SessionRecord = { ...session, refreshId: randomUUID(), expiresAt: Date.now() + this.tokens.refreshTtlMs };
    const r = await this.store.rotate(session.id, claims.refreshId as string, next.refreshId, next.expiresAt);
    if (r === 'missing') throw new Errors.TOKEN_NOT_ACTIVE();
    // Another request rotated it first with the same token: the token was used twice.
    if (r === 'reused') return this.reused(session);
    this.auth.noteSession(next);
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
    this.auth.noteSession(next);
    return this.sign(username, next);
  }

  /** Ends one session (logout, refresh reuse). */
  async end(sessionId: string): Promise<void> {
    await this.store.delete(sessionId);
    await this.bus.publish({ type: 'sessions-ended', sessionIds: [sessionId] });
  }

  /** Ends every session of a user but `exceptId` (password change, deactivation, deletion). */
  async endAllForUser(userId: number, exceptId?: string): Promise<string[]> {
    const ids = await this.store.deleteForUser(userId, exceptId);
    if (ids.length > 0) await this.bus.publish({ type: 'sessions-ended', sessionIds: ids });
    return ids;
  }

  /** Tells every process that sessions are gone whose rows the database already deleted (cascade). */
  async announceEnded(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.bus.publish({ type: 'sessions-ended', sessionIds: ids });
  }
}
