// The database schema: one list of migrations for SQLite and PostgreSQL, applied in order of name.
// A new migration is appended to MIGRATIONS (`0002_...`); an applied one is never edited. Only the
// auto-increment id column and the binary column type differ between the dialects, so each
// migration receives the id column and the dialect.
import { Migrator, sql, type CreateTableBuilder, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { DbDialect } from './schema.js';

type IdColumn = <T extends string>(tb: CreateTableBuilder<T, never>) => CreateTableBuilder<T, 'id'>;

interface SchemaMigration {
  name: string;
  up(db: Kysely<unknown>, id: IdColumn, dialect: DbDialect): Promise<void>;
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
  {
    // Safety events (src/events/): the log of warnings, its snapshots (rows, so that every instance
    // on a shared PostgreSQL serves them, and retention deletes them with their event), the review
    // audit, webhooks and their deliveries (an outbox written with the event), and a change counter.
    name: '0003_safety_events',
    async up(db, id, dialect) {
      await id(db.schema.createTable('events').ifNotExists())
        .addColumn('site', 'varchar(256)', (c) => c.notNull())
        .addColumn('camera', 'varchar(256)', (c) => c.notNull())
        .addColumn('code', 'varchar(256)', (c) => c.notNull())
        .addColumn('kind', 'varchar(16)', (c) => c.notNull())
        .addColumn('words', 'varchar(1024)', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addColumn('peak_count', 'integer', (c) => c.notNull())
        .addColumn('first_seen', 'bigint', (c) => c.notNull())
        .addColumn('last_seen', 'bigint', (c) => c.notNull())
        .addColumn('frames_seen', 'bigint', (c) => c.notNull())
        .addColumn('first_frame_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('last_frame_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('has_snapshot', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('has_peak_snapshot', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('status', 'varchar(32)', (c) => c.notNull().defaultTo('new'))
        .addColumn('note', 'varchar(2000)')
        .addColumn('reviewed_by', 'varchar(64)')
        .addColumn('reviewed_at', 'bigint')
        .addColumn('created_seq', 'bigint', (c) => c.notNull())
        .addColumn('change_seq', 'bigint', (c) => c.notNull())
        .addCheckConstraint('events_kind_check', sql`kind in ('code', 'sentence')`)
        .addCheckConstraint('events_status_check', sql`status in ('new', 'acknowledged', 'false_positive', 'resolved')`)
        .execute();
      // Newest first (by first seen) within the caller's sites, optionally one camera, one status (the
      // review queue), one warning; every site (admins); the recorder's lookup of a camera's open
      // event for a warning; the live feed's tail; retention. The listing's keyset is
      // (first_seen, id): a time window starts the scan at its end, and an event keeps its place.
      const idx = (name: string, columns: string[], unique = false) => {
        const b = db.schema.createIndex(name).ifNotExists().on('events').columns(columns);
        return (unique ? b.unique() : b).execute();
      };
      await idx('events_site_idx', ['site', 'first_seen', 'id']);
      await idx('events_camera_idx', ['site', 'camera', 'first_seen', 'id']);
      await idx('events_status_idx', ['site', 'status', 'first_seen', 'id']);
      await idx('events_code_idx', ['site', 'code', 'first_seen', 'id']);
      await idx('events_time_idx', ['first_seen', 'id']);
      await idx('events_key_idx', ['site', 'camera', 'code', 'id']);
      await idx('events_change_idx', ['change_seq'], true);
      await idx('events_last_seen_idx', ['last_seen']);

      await db.schema
        .createTable('event_snapshots')
        .ifNotExists()
        .addColumn('event_id', 'integer', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('kind', 'varchar(8)', (c) => c.notNull())
        .addColumn('content_type', 'varchar(32)', (c) => c.notNull())
        .addColumn('image', dialect === 'postgres' ? 'bytea' : 'blob', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addColumn('taken_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('event_snapshots_pk', ['event_id', 'kind'])
        .addCheckConstraint('event_snapshots_kind_check', sql`kind in ('first', 'peak')`)
        .execute();

      await id(db.schema.createTable('event_reviews').ifNotExists())
        .addColumn('event_id', 'integer', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('user_id', 'integer') // no reference: the record outlives a deleted user
        .addColumn('username', 'varchar(64)', (c) => c.notNull())
        .addColumn('from_status', 'varchar(32)', (c) => c.notNull())
        .addColumn('to_status', 'varchar(32)', (c) => c.notNull())
        .addColumn('note', 'varchar(2000)')
        .execute();
      await db.schema.createIndex('event_reviews_event_idx').ifNotExists().on('event_reviews').columns(['event_id', 'id']).execute();

      // name -> value: 'change_seq' (the last change number given out; the row every event write
      // updates first, which also serializes writers across instances), 'retention_ms' once set.
      await db.schema
        .createTable('events_state')
        .ifNotExists()
        .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('value', 'bigint', (c) => c.notNull())
        .execute();
      await sql`insert into events_state (name, value) values ('change_seq', 0)`.execute(db);

      await id(db.schema.createTable('webhooks').ifNotExists())
        .addColumn('url', 'varchar(2048)', (c) => c.notNull())
        .addColumn('sites', 'text', (c) => c.notNull()) // JSON list of site names; [] = every site
        .addColumn('secret', 'varchar(255)', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('last_success_at', 'bigint')
        .addColumn('last_error', 'varchar(1000)')
        .addColumn('last_error_at', 'bigint')
        .execute();

      await id(db.schema.createTable('webhook_deliveries').ifNotExists())
        .addColumn('webhook_id', 'integer', (c) => c.notNull().references('webhooks.id').onDelete('cascade'))
        .addColumn('event_id', 'integer', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('lease_until', 'bigint')
        .addColumn('last_error', 'varchar(1000)')
        .addColumn('last_status', 'integer')
        .addColumn('finished_at', 'bigint')
        .addCheckConstraint('webhook_deliveries_status_check', sql`status in ('pending', 'delivered', 'failed')`)
        .execute();
      await db.schema.createIndex('webhook_deliveries_due_idx').ifNotExists().on('webhook_deliveries').columns(['webhook_id', 'status', 'next_attempt_at']).execute();
      await db.schema.createIndex('webhook_deliveries_event_idx').ifNotExists().on('webhook_deliveries').column('event_id').execute();
    },
    async down(db) {
      for (const t of ['webhook_deliveries', 'webhooks', 'events_state', 'event_reviews', 'event_snapshots', 'events']) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  },
];

class InCodeProvider implements MigrationProvider {
  constructor(private readonly dialect: DbDialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    const id = idColumn(this.dialect);
    return Object.fromEntries(MIGRATIONS.map((m) => [m.name, { up: (db: Kysely<unknown>) => m.up(db, id, this.dialect), down: m.down }]));
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
