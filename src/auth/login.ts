// Logging in and out: a username and password become a session (sessions.ts), a refresh token a new
// pair, a password change ends the user's other sessions. Failed attempts are limited per username
// and per client address (login-limiter.ts).
import { Errors, rateLimited } from '../errors.js';
import { inDatabase } from '../error-mapping.js';
import type { Logger } from '../lib/log.js';
import { canChangeOwnPassword, type Principal, type Role } from './principal.js';
import { checkPassword, hashPassword, verifyPassword } from './passwords.js';
import type { LoginLimiter } from './login-limiter.js';
import type { Sessions, TokenPair } from './sessions.js';

/** A user's sign-in facts. */
export interface Credentials {
  id: number;
  username: string;
  password_hash: string;
  role: Role;
  is_active: boolean;
}

/** Where credentials are read and passwords written (users/repository.ts). */
export interface CredentialStore {
  userByUsername(username: string): Promise<Credentials | undefined>;
  userById(id: number): Promise<Credentials | undefined>;
  setPasswordHash(id: number, hash: string): Promise<void>;
}

export interface LoginResult extends TokenPair {
  role: Role;
  username: string;
  user_id: number;
}


/** 429 for a locked login, saying when the lock ends and that an admin can lift it. */
function locked(wait: number): Error {
  const until = new Date(Date.now() + wait * 1000).toISOString().slice(11, 19);
  return rateLimited(wait, 'Too many failed logins', ` (at ${until} UTC); an admin can unlock the account now`);
}

export class LoginService {
  constructor(
    private readonly users: CredentialStore,
    private readonly sessions: Sessions,
    private readonly limiter: LoginLimiter,
    private readonly log: Logger,
  ) {}

  /**
   * Wrong password and unknown user get the same 401 BAD_CREDENTIALS after the same work (an argon2
   * verification, against a dummy hash when there is no such user). A deactivated user with the
   * right password gets 403 ACCOUNT_DISABLED, so a person can be told to ask an admin: only someone
   * who knows the password learns that the account exists.
   */
  async login(username: string, password: string, ip: string): Promise<LoginResult> {
    const wait = await this.limiter.retryAfter(username, ip);
    if (wait > 0) throw locked(wait);
    const row = await inDatabase(() => this.users.userByUsername(username));
    const ok = await verifyPassword(row?.password_hash, password);
    if (!row || !ok || !row.is_active) {
      await this.limiter.recordFailure(username, ip);
      if (row && ok) throw new Errors.ACCOUNT_DISABLED();
      throw new Errors.BAD_CREDENTIALS();
    }
    await this.limiter.clearUser(username);
    const pair = await this.sessions.start({ id: row.id, username: row.username });
    return { access_token: pair.access_token, refresh_token: pair.refresh_token, role: row.role, username: row.username, user_id: row.id };
  }

  refresh(token: string): Promise<TokenPair> {
    return this.sessions.refresh(token, async (id) => {
      const u = await inDatabase(() => this.users.userById(id));
      return u ? { username: u.username, active: u.is_active } : null;
    });
  }

  logout(p: Principal): Promise<void> {
    return this.sessions.end(p.sessionId);
  }

  /** Starts a session for an existing active user (CLI `token`, tests, the benchmark). */
  async issueTokens(username: string): Promise<TokenPair> {
    const row = await inDatabase(() => this.users.userByUsername(username));
    if (!row) throw new Errors.NOT_FOUND(`user '${username}' not found`);
    if (!row.is_active) throw new Errors.FORBIDDEN(`user '${username}' is deactivated`);
    const { access_token, refresh_token } = await this.sessions.start({ id: row.id, username: row.username });
    return { access_token, refresh_token };
  }

  /**
   * Changes the caller's own password. Ends the user's other sessions; keeps this one (its open
   * sockets stay open) but retires its refresh token and returns a new pair.
   */
  async changeOwnPassword(p: Principal, oldPassword: string, newPassword: string, ip: string): Promise<TokenPair> {
    if (!canChangeOwnPassword(p)) throw new Errors.FORBIDDEN('guest accounts cannot change their password');
    checkPassword(newPassword, 'new_password');
    const wait = await this.limiter.retryAfter(p.username, ip);
    if (wait > 0) throw locked(wait);
    const row = await inDatabase(() => this.users.userById(p.userId));
    if (!row || !row.is_active) throw new Errors.TOKEN_NOT_ACTIVE();
    if (!(await verifyPassword(row.password_hash, oldPassword))) {
      await this.limiter.recordFailure(p.username, ip);
      throw new Errors.WRONG_PASSWORD();
    }
    const hash = await hashPassword(newPassword);
    await inDatabase(() => this.users.setPasswordHash(p.userId, hash));
    await this.sessions.endAllForUser(p.userId, p.sessionId);
    this.log.info({ userId: p.userId }, 'password changed; other sessions ended');
    return this.sessions.renew(p.sessionId, row.username);
  }
}
