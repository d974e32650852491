// What the accounts API does, independent of HTTP (the routes, the CLI and the tests call it).
import { Errors, rateLimited } from '../errors.js';
import { canChangeOwnPassword, type Principal, type Role } from '../auth/principal.js';
import { generatePassword, hashPassword, verifyPassword } from '../auth/passwords.js';
import type { SessionManager, TokenPair } from '../auth/session-manager.js';
import type { SessionStore } from '../auth/sessions.js';
import type { EventBus } from '../auth/events.js';
import type { LoginLimiter } from '../auth/login-limiter.js';
import { guarded, isUniqueViolation, mapStoreError } from '../db/errors.js';
import type { AccountsRepository, SiteView, UserView } from './repository.js';
import { checkPassword, checkRole, checkSiteName, checkSiteNames, checkUsername } from './validation.js';

export interface LoginResult extends TokenPair {
  role: Role;
  username: string;
  user_id: number;
}

export interface UserPatch {
  username?: string;
  password?: string;
  role?: Role;
  is_active?: boolean;
  sites?: string[];
}

export interface ServiceLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Unique violations become 409 DUPLICATE with `what`; unreachable stores 503; the rest as is. */
async function writing<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isUniqueViolation(err)) throw new Errors.DUPLICATE(what);
    throw mapStoreError(err);
  }
}

export class AccountsService {
  constructor(
    private readonly repo: AccountsRepository,
    private readonly sessions: SessionManager,
    private readonly sessionStore: SessionStore,
    private readonly bus: EventBus,
    private readonly limiter: LoginLimiter,
    private readonly log: ServiceLog,
  ) {}

  // ---------------------------------------------------------------- sessions

  /**
   * Wrong password and unknown user get the same 401 BAD_CREDENTIALS after the same work (an argon2
   * verification, against a dummy hash when there is no such user). A deactivated user with the
   * right password gets 403 ACCOUNT_DISABLED, so a person can be told to ask an admin: only someone
   * who knows the password learns that the account exists.
   */
  async login(username: string, password: string, ip: string): Promise<LoginResult> {
    const wait = await this.limiter.retryAfter(username, ip);
    if (wait > 0) throw rateLimited(wait);
    const row = await guarded(() => this.repo.userByUsername(username));
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
      const u = await guarded(() => this.repo.userById(id));
      return u ? { username: u.username, active: u.is_active } : null;
    });
  }

  logout(p: Principal): Promise<void> {
    return this.sessions.end(p.sessionId);
  }

  /** Starts a session for an existing active user (CLI `token`, tests, the benchmark). */
  async issueTokens(username: string): Promise<TokenPair> {
    const row = await guarded(() => this.repo.userByUsername(username));
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
    if (wait > 0) throw rateLimited(wait);
    const row = await guarded(() => this.repo.userById(p.userId));
    if (!row || !row.is_active) throw new Errors.TOKEN_NOT_ACTIVE();
    if (!(await verifyPassword(row.password_hash, oldPassword))) {
      await this.limiter.recordFailure(p.username, ip);
      throw new Errors.WRONG_PASSWORD();
    }
    const hash = await hashPassword(newPassword);
    await guarded(() => this.repo.updateUser(this.repo.db, p.userId, { passwordHash: hash }));
    await this.sessions.endAllForUser(p.userId, p.sessionId);
    this.log.info({ userId: p.userId }, 'password changed; other sessions ended');
    return this.sessions.renew(p.sessionId, row.username);
  }

  // ---------------------------------------------------------------- users

  async me(p: Principal): Promise<UserView> {
    const v = await guarded(() => this.repo.userView(p.userId));
    if (!v) throw new Errors.TOKEN_NOT_ACTIVE();
    return v;
  }

  listUsers(): Promise<UserView[]> {
    return guarded(() => this.repo.listUsers());
  }

  async getUser(id: number): Promise<UserView> {
    const v = await guarded(() => this.repo.userView(id));
    if (!v) throw new Errors.NOT_FOUND(`user ${id} not found`);
    return v;
  }

  async createUser(input: { username: string; password: string; role: Role; sites?: string[]; is_active?: boolean }): Promise<UserView> {
    const username = checkUsername(input.username);
    const password = checkPassword(input.password);
    const role = checkRole(input.role);
    const sites = input.sites === undefined ? [] : checkSiteNames(input.sites);
    const hash = await hashPassword(password);
    return writing(`user '${username}' already exists`, () =>
      this.repo.transaction(async (trx) => {
        const id = await this.repo.insertUser(trx, { username, passwordHash: hash, role, isActive: input.is_active !== false });
        if (sites.length > 0) await this.repo.setUserSites(trx, id, sites);
        return (await this.repo.userView(id, trx)) as UserView;
      }),
    );
  }

  /**
   * Admin changes to a user. A password change or deactivation ends the user's sessions (but the
   * caller's own current one, when the caller edits themself). Refused with 422 VALIDATION: an admin
   * deactivating themself, and demoting or deactivating the last active admin.
   */
  async updateUser(actor: Principal | null, id: number, patch: UserPatch): Promise<UserView> {
    const username = patch.username === undefined ? undefined : checkUsername(patch.username);
    const role = patch.role === undefined ? undefined : checkRole(patch.role);
    const sites = patch.sites === undefined ? undefined : checkSiteNames(patch.sites);
    const hash = patch.password === undefined ? undefined : await hashPassword(checkPassword(patch.password));
    const isActive = patch.is_active;
    const self = actor !== null && actor.userId === id;
    if (self && isActive === false) throw new Errors.VALIDATION('you cannot deactivate your own account');

    const view = await writing(`user '${username}' already exists`, () =>
      this.repo.transaction(async (trx) => {
        const user = await this.repo.userById(id, trx);
        if (!user) throw new Errors.NOT_FOUND(`user ${id} not found`);
        const losesAdmin = user.role === 'admin' && user.is_active && ((role !== undefined && role !== 'admin') || isActive === false);
        if (losesAdmin) {
          const admins = await this.repo.activeAdminIds(trx);
          if (!admins.some((a) => a !== id)) throw new Errors.VALIDATION('cannot demote or deactivate the last active admin');
        }
        await this.repo.updateUser(trx, id, { username, passwordHash: hash, role, isActive });
        if (sites !== undefined) await this.repo.setUserSites(trx, id, sites);
        return (await this.repo.userView(id, trx)) as UserView;
      }),
    );
    if (hash !== undefined || isActive === false) {
      await this.sessions.endAllForUser(id, self ? actor.sessionId : undefined);
    }
    await this.bus.publish({ type: 'users-changed', userIds: [id] });
    return view;
  }

  /** Deletes a user and ends their sessions. An admin cannot delete themself or the last active admin. */
  async deleteUser(actor: Principal | null, id: number): Promise<void> {
    if (actor !== null && actor.userId === id) throw new Errors.VALIDATION('you cannot delete your own account');
    const cascaded = await guarded(() =>
      this.repo.transaction(async (trx) => {
        const user = await this.repo.userById(id, trx);
        if (!user) throw new Errors.NOT_FOUND(`user ${id} not found`);
        if (user.role === 'admin' && user.is_active) {
          const admins = await this.repo.activeAdminIds(trx);
          if (!admins.some((a) => a !== id)) throw new Errors.VALIDATION('cannot delete the last active admin');
        }
        const sessionIds = (await trx.selectFrom('sessions').select('jti').where('user_id', '=', id).execute()).map((r) => r.jti);
        await this.repo.deleteUser(trx, id);
        return sessionIds;
      }),
    );
    if (this.sessionStore.kind === 'sql') await this.sessions.announceEnded(cascaded);
    else await this.sessions.endAllForUser(id);
    await this.bus.publish({ type: 'users-changed', userIds: [id] });
    this.log.info({ userId: id }, 'user deleted');
  }

  /** CLI: sets a password and ends the user's sessions. */
  async setPassword(username: string, password: string): Promise<void> {
    checkPassword(password);
    const row = await guarded(() => this.repo.userByUsername(username));
    if (!row) throw new Errors.NOT_FOUND(`user '${username}' not found`);
    await this.updateUser(null, row.id, { password });
  }

  /** On an empty database: creates the first admin (the caller prints a generated password once). */
  async ensureFirstAdmin(username: string, configured: string | null): Promise<{ created: boolean; username: string; password?: string }> {
    if ((await guarded(() => this.repo.countUsers())) > 0) return { created: false, username };
    const password = configured ?? generatePassword();
    try {
      await this.createUser({ username, password, role: 'admin' });
    } catch (err) {
      // Another instance starting at the same time created it first.
      if ((err as { code?: string }).code === 'DUPLICATE') return { created: false, username };
      if ((err as { code?: string }).code === 'VALIDATION') {
        throw new Error(`ADMIN_USERNAME "${username}" is not a valid username: ${(err as Error).message}`);
      }
      throw err;
    }
    return configured ? { created: true, username } : { created: true, username, password };
  }

  // ---------------------------------------------------------------- sites

  listSites(): Promise<SiteView[]> {
    return guarded(() => this.repo.listSites());
  }

  async createSite(name: string): Promise<SiteView> {
    checkSiteName(name);
    return writing(`site '${name}' already exists`, async () => {
      const id = await this.repo.insertSite(this.repo.db, name);
      return (await this.repo.site(id)) as SiteView;
    });
  }

  /** Renames a site; its users' sockets for the old name close (their principal no longer has it). */
  async renameSite(id: number, name: string): Promise<SiteView> {
    checkSiteName(name);
    const { view, users } = await writing(`site '${name}' already exists`, () =>
      this.repo.transaction(async (trx) => {
        if (!(await this.repo.site(id, trx))) throw new Errors.NOT_FOUND(`site ${id} not found`);
        const users = await this.repo.userIdsOfSite(trx, id);
        await this.repo.renameSite(trx, id, name);
        await this.repo.touchUsers(trx, users);
        return { view: (await this.repo.site(id, trx)) as SiteView, users };
      }),
    );
    if (users.length > 0) await this.bus.publish({ type: 'users-changed', userIds: users });
    return view;
  }

  async deleteSite(id: number): Promise<void> {
    const users = await guarded(() =>
      this.repo.transaction(async (trx) => {
        if (!(await this.repo.site(id, trx))) throw new Errors.NOT_FOUND(`site ${id} not found`);
        const users = await this.repo.userIdsOfSite(trx, id);
        await this.repo.deleteSite(trx, id);
        await this.repo.touchUsers(trx, users);
        return users;
      }),
    );
    if (users.length > 0) await this.bus.publish({ type: 'users-changed', userIds: users });
  }
}
