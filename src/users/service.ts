// Users and sites, independent of HTTP (the routes, the CLI and the tests call it). Changes that
// end sessions go through the session lifecycle (auth/sessions.ts); changes that alter what a user
// may see are pushed to every process (auth/account-events.ts).
import { Errors } from '../errors.js';
import { databaseError, isUniqueViolation, mapped } from '../error-mapping.js';
import type { Logger } from '../lib/log.js';
import type { Principal, Role } from '../auth/principal.js';
import { checkPassword, generatePassword, hashPassword } from '../auth/passwords.js';
import type { Sessions } from '../auth/sessions.js';
import type { EventBus } from '../auth/account-events.js';
import type { AccountsRepository, SiteView, UserView } from './repository.js';
import { checkRole, checkSiteName, checkSiteNames, checkUsername } from './validation.js';

export interface UserPatch {
  username?: string;
  password?: string;
  role?: Role;
  is_active?: boolean;
  sites?: string[];
}

/** Unique violations become 409 DUPLICATE with `what`; unreachable stores 503; the rest as is. */
async function writing<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isUniqueViolation(err)) throw new Errors.DUPLICATE(what);
    throw databaseError(err);
  }
}

const read = <T>(fn: () => Promise<T>) => mapped(databaseError, fn);

export class UsersService {
  constructor(
    private readonly repo: AccountsRepository,
    private readonly sessions: Sessions,
    private readonly bus: EventBus,
    private readonly log: Logger,
  ) {}

  // ---------------------------------------------------------------- users

  async me(p: Principal): Promise<UserView> {
    const v = await read(() => this.repo.userView(p.userId));
    if (!v) throw new Errors.TOKEN_NOT_ACTIVE();
    return v;
  }

  listUsers(): Promise<UserView[]> {
    return read(() => this.repo.listUsers());
  }

  async getUser(id: number): Promise<UserView> {
    const v = await read(() => this.repo.userView(id));
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
   * caller's own current one, when the caller edits themself); a new username ends them all. Refused with 422 VALIDATION: an admin
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

    let renamed = false;
    const view = await writing(`user '${username}' already exists`, () =>
      this.repo.transaction(async (trx) => {
        const user = await this.repo.userById(id, trx);
        if (!user) throw new Errors.NOT_FOUND(`user ${id} not found`);
        renamed = username !== undefined && username !== user.username;
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
    // Tokens name their user: a renamed user's tokens no longer match, so all their sessions end
    // (the caller's own too) and they log in under the new name.
    if (renamed) await this.sessions.endAllForUser(id);
    else if (hash !== undefined || isActive === false) {
      await this.sessions.endAllForUser(id, self ? actor.sessionId : undefined);
    }
    await this.bus.publish({ type: 'users-changed', userIds: [id] });
    return view;
  }

  /** Deletes a user and ends their sessions. An admin cannot delete themself or the last active admin. */
  async deleteUser(actor: Principal | null, id: number): Promise<void> {
    if (actor !== null && actor.userId === id) throw new Errors.VALIDATION('you cannot delete your own account');
    const cascaded = await read(() =>
      this.repo.transaction(async (trx) => {
        const user = await this.repo.userById(id, trx);
        if (!user) throw new Errors.NOT_FOUND(`user ${id} not found`);
        if (user.role === 'admin' && user.is_active) {
          const admins = await this.repo.activeAdminIds(trx);
          if (!admins.some((a) => a !== id)) throw new Errors.VALIDATION('cannot delete the last active admin');
        }
        // Its sessions' rows go with it (cascade): read their ids first, to announce their end.
        const sessionIds = await this.sessions.store.idsForUser(id, trx);
        await this.repo.deleteUser(trx, id);
        return sessionIds;
      }),
    );
    await this.sessions.announceEnded(cascaded);
    await this.bus.publish({ type: 'users-changed', userIds: [id] });
    this.log.info({ userId: id }, 'user deleted');
  }

  /** CLI: sets a password and ends the user's sessions. */
  async setPassword(username: string, password: string): Promise<void> {
    checkPassword(password);
    const row = await read(() => this.repo.userByUsername(username));
    if (!row) throw new Errors.NOT_FOUND(`user '${username}' not found`);
    await this.updateUser(null, row.id, { password });
  }

  /** On an empty database: creates the first admin (the caller prints a generated password once). */
  async ensureFirstAdmin(username: string, configured: string | null): Promise<{ created: boolean; username: string; password?: string }> {
    if ((await read(() => this.repo.countUsers())) > 0) return { created: false, username };
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
    return read(() => this.repo.listSites());
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
    const users = await read(() =>
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
