// SQL for users, sites and their links (Kysely; the same queries on SQLite and PostgreSQL).
import type { Kysely, Transaction } from 'kysely';
import type { AccountsDb, DbDialect } from '../db/schema.js';
import type { Role, UserRecord } from '../auth/principal.js';
import { chunks } from '../lib/chunks.js';

export type Db = Kysely<AccountsDb> | Transaction<AccountsDb>;

/** A user as the API shows it: never with a password hash. */
export interface UserView {
  id: number;
  username: string;
  role: Role;
  is_active: boolean;
  sites: string[];
  created_at: string;
  updated_at: string;
}

export interface SiteView {
  id: number;
  name: string;
  created_at: string;
  updated_at: string;
}

export interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  role: Role;
  is_active: boolean;
}

const nowIso = () => new Date().toISOString();

export class AccountsRepository {
  constructor(
    readonly db: Kysely<AccountsDb>,
    readonly dialect: DbDialect,
  ) {}

  transaction<T>(fn: (trx: Transaction<AccountsDb>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(fn);
  }

  async countUsers(db: Db = this.db): Promise<number> {
    const r = await db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async userByUsername(username: string, db: Db = this.db): Promise<UserRow | undefined> {
    const r = await db.selectFrom('users').select(['id', 'username', 'password_hash', 'role', 'is_active']).where('username', '=', username).executeTakeFirst();
    return r && { ...r, id: Number(r.id), role: r.role as Role, is_active: Number(r.is_active) === 1 };
  }

  async userById(id: number, db: Db = this.db): Promise<UserRow | undefined> {
    const r = await db.selectFrom('users').select(['id', 'username', 'password_hash', 'role', 'is_active']).where('id', '=', id).executeTakeFirst();
    return r && { ...r, id: Number(r.id), role: r.role as Role, is_active: Number(r.is_active) === 1 };
  }

  private async siteNamesByUser(ids: number[], db: Db): Promise<Map<number, string[]>> {
    const out = new Map<number, string[]>();
    for (const part of chunks(ids)) {
      const rows = await db
        .selectFrom('user_sites')
        .innerJoin('sites', 'sites.id', 'user_sites.site_id')
        .select(['user_sites.user_id as user_id', 'sites.name as name'])
        .where('user_sites.user_id', 'in', part)
        .orderBy('sites.name')
        .execute();
      for (const r of rows) {
        const uid = Number(r.user_id);
        const list = out.get(uid);
        if (list) list.push(r.name);
        else out.set(uid, [r.name]);
      }
    }
    return out;
  }

  /** Principal data for many users at once (the authenticator's cache misses and rechecks). */
  async userRecords(ids: number[], db: Db = this.db): Promise<Map<number, UserRecord>> {
    const out = new Map<number, UserRecord>();
    if (ids.length === 0) return out;
    const sites = await this.siteNamesByUser(ids, db);
    for (const part of chunks(ids)) {
      const rows = await db.selectFrom('users').select(['id', 'username', 'role', 'is_active']).where('id', 'in', part).execute();
      for (const r of rows) {
        const id = Number(r.id);
        out.set(id, { id, username: r.username, role: r.role as Role, isActive: Number(r.is_active) === 1, sites: new Set(sites.get(id) ?? []) });
      }
    }
    return out;
  }

  async listUsers(db: Db = this.db, ids?: number[]): Promise<UserView[]> {
    let q = db.selectFrom('users').select(['id', 'username', 'role', 'is_active', 'created_at', 'updated_at']).orderBy('id');
    if (ids) q = q.where('id', 'in', ids);
    const rows = await q.execute();
    const sites = await this.siteNamesByUser(rows.map((r) => Number(r.id)), db);
    return rows.map((r) => ({
      id: Number(r.id),
      username: r.username,
      role: r.role as Role,
      is_active: Number(r.is_active) === 1,
      sites: sites.get(Number(r.id)) ?? [],
      created_at: r.created_at,
      updated_at: r.updated_at,
    }));
  }

  async userView(id: number, db: Db = this.db): Promise<UserView | undefined> {
    return (await this.listUsers(db, [id]))[0];
  }

  async insertUser(db: Db, u: { username: string; passwordHash: string; role: Role; isActive?: boolean }): Promise<number> {
    const now = nowIso();
    const r = await db
      .insertInto('users')
      .values({ username: u.username, password_hash: u.passwordHash, role: u.role, is_active: u.isActive === false ? 0 : 1, created_at: now, updated_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(r.id);
  }

  async updateUser(db: Db, id: number, f: { username?: string; passwordHash?: string; role?: Role; isActive?: boolean }): Promise<void> {
    await db
      .updateTable('users')
      .set({
        ...(f.username !== undefined ? { username: f.username } : {}),
        ...(f.passwordHash !== undefined ? { password_hash: f.passwordHash } : {}),
        ...(f.role !== undefined ? { role: f.role } : {}),
        ...(f.isActive !== undefined ? { is_active: f.isActive ? 1 : 0 } : {}),
        updated_at: nowIso(),
      })
      .where('id', '=', id)
      .execute();
  }

  async setPasswordHash(id: number, hash: string): Promise<void> {
    await this.updateUser(this.db, id, { passwordHash: hash });
  }

  async deleteUser(db: Db, id: number): Promise<boolean> {
    const r = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Creates the sites that do not exist yet; returns name -> id for all of them. */
  async ensureSites(db: Db, names: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (names.length === 0) return out;
    const now = nowIso();
    for (const part of chunks(names)) {
      await db
        .insertInto('sites')
        .values(part.map((name) => ({ name, created_at: now, updated_at: now })))
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      const rows = await db.selectFrom('sites').select(['id', 'name']).where('name', 'in', part).execute();
      for (const r of rows) out.set(r.name, Number(r.id));
    }
    return out;
  }

  /** Replaces a user's sites (creating missing ones). */
  async setUserSites(db: Db, userId: number, names: string[]): Promise<void> {
    const ids = await this.ensureSites(db, names);
    await db.deleteFrom('user_sites').where('user_id', '=', userId).execute();
    if (ids.size > 0) {
      await db
        .insertInto('user_sites')
        .values([...ids.values()].map((site_id) => ({ user_id: userId, site_id })))
        .execute();
    }
  }

  /** Ids of active admins; on PostgreSQL the rows are locked until the transaction ends. */
  async activeAdminIds(db: Db): Promise<number[]> {
    let q = db.selectFrom('users').select('id').where('role', '=', 'admin').where('is_active', '=', 1);
    if (this.dialect === 'postgres') q = q.forUpdate();
    return (await q.execute()).map((r) => Number(r.id));
  }

  async listSites(db: Db = this.db): Promise<SiteView[]> {
    const rows = await db.selectFrom('sites').select(['id', 'name', 'created_at', 'updated_at']).orderBy('name').execute();
    return rows.map((r) => ({ ...r, id: Number(r.id) }));
  }

  async site(id: number, db: Db = this.db): Promise<SiteView | undefined> {
    const r = await db.selectFrom('sites').select(['id', 'name', 'created_at', 'updated_at']).where('id', '=', id).executeTakeFirst();
    return r && { ...r, id: Number(r.id) };
  }

  async insertSite(db: Db, name: string): Promise<number> {
    const now = nowIso();
    const r = await db.insertInto('sites').values({ name, created_at: now, updated_at: now }).returning('id').executeTakeFirstOrThrow();
    return Number(r.id);
  }

  async renameSite(db: Db, id: number, name: string): Promise<boolean> {
    const r = await db.updateTable('sites').set({ name, updated_at: nowIso() }).where('id', '=', id).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async deleteSite(db: Db, id: number): Promise<boolean> {
    const r = await db.deleteFrom('sites').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async userIdsOfSite(db: Db, siteId: number): Promise<number[]> {
    return (await db.selectFrom('user_sites').select('user_id').where('site_id', '=', siteId).execute()).map((r) => Number(r.user_id));
  }

  async touchUsers(db: Db, ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await db.updateTable('users').set({ updated_at: nowIso() }).where('id', 'in', ids).execute();
  }
}
