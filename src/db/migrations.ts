// The database schema: one list of migrations for SQLite and PostgreSQL, applied in order of name.
// A new migration is appended to MIGRATIONS (`0002_...`); an applied one is never edited. Only the
// auto-increment id column differs between the dialects, so each migration receives it.
import { Migrator, sql, type CreateTableBuilder, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { DbDialect } from './schema.js';

type IdColumn = <T extends string>(tb: CreateTableBuilder<T, never>) => CreateTableBuilder<T, 'id'>;

interface SchemaMigration {
  name: string;
  up(db: Kysely<unknown>, id: IdColumn): Promise<void>;
  down(db: Kysely<unknown>): Promise<void>;
}

function idColumn(dialect: DbDialect): IdColumn {
  return (tb) =>
    dialect === 'postgres'
      ? tb.addColumn('id', 'integer', (c) => c.primaryKey().generatedByDefaultAsIdentity())
      : tb.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

const MIGRATIONS: SchemaMigration[] = [
  {
    name: '0001_accounts',
    async up(db, id) {
      await id(db.schema.createTable('users').ifNotExists())
        .addColumn('username', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('password_hash', 'varchar(255)', (c) => c.notNull())
        .addColumn('role', 'varchar(32)', (c) => c.notNull())
        .addColumn('is_active', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .addCheckConstraint('users_role_check', sql`role in ('admin', 'model_manager', 'user', 'guest')`)
        .addCheckConstraint('users_is_active_check', sql`is_active in (0, 1)`)
        .execute();

      await id(db.schema.createTable('sites').ifNotExists())
        .addColumn('name', 'varchar(200)', (c) => c.notNull().unique())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('user_sites')
        .ifNotExists()
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('site_id', 'integer', (c) => c.notNull().references('sites.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('user_sites_pk', ['user_id', 'site_id'])
        .execute();
      await db.schema.createIndex('user_sites_site_idx').ifNotExists().on('user_sites').column('site_id').execute();

      await db.schema
        .createTable('sessions')
        .ifNotExists()
        .addColumn('jti', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('refresh_jti', 'varchar(64)', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_user_idx').ifNotExists().on('sessions').column('user_id').execute();
      await db.schema.createIndex('sessions_expires_idx').ifNotExists().on('sessions').column('expires_at').execute();
    },
    async down(db) {
      for (const t of ['sessions', 'user_sites', 'sites', 'users']) await db.schema.dropTable(t).ifExists().execute();
    },
  },
  {
    name: '0002_login_failures',
    async up(db) {
      await db.schema
        .createTable('login_failures')
        .ifNotExists()
        .addColumn('key', 'varchar(300)', (c) => c.primaryKey())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('reset_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('login_failures_reset_idx').ifNotExists().on('login_failures').column('reset_at').execute();
    },
    async down(db) {
      await db.schema.dropTable('login_failures').ifExists().execute();
    },
  },
];

class InCodeProvider implements MigrationProvider {
  constructor(private readonly dialect: DbDialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    const id = idColumn(this.dialect);
    return Object.fromEntries(MIGRATIONS.map((m) => [m.name, { up: (db: Kysely<unknown>) => m.up(db, id), down: m.down }]));
  }
}

/** Brings the schema up to date; safe to run from several processes at once (the Migrator locks). */
export async function migrateToLatest(db: Kysely<unknown>, dialect: DbDialect, schema?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: new InCodeProvider(dialect),
    // With a per-test schema on PostgreSQL, keep the bookkeeping tables in it (Kysely would otherwise
    // find another schema's kysely_migration table through the catalog and skip creating its own).
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`accounts database migration${failed ? ` ${failed.migrationName}` : ''} failed: ${String((error as Error).message ?? error)}`);
  }
}
