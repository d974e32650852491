// The accounts database: SQLite through better-sqlite3 (a file under DATA_DIR, the embedded default)
// or PostgreSQL through pg (DATABASE_URL). Both behind one Kysely instance and one set of migrations.
// better-sqlite3 is synchronous: keep these queries off the frame path (sessions and users are
// cached in memory by the authenticator).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { maskPassword, type Config } from '../config.js';
import type { AccountsDb, DbDialect } from './schema.js';
import { migrateToLatest } from './migrations.js';
import { databaseError } from '../error-mapping.js';

export interface Database {
  db: Kysely<AccountsDb>;
  dialect: DbDialect;
  /** Where it is, for logs (no password). */
  where: string;
  /** SQLite: the journal mode in effect ("wal" unless the file system cannot do it). */
  journalMode?: string;
  /** Resolves when the database answers within 2 s; else throws DB_UNAVAILABLE. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const PING_TIMEOUT_MS = 2000;

/** `select 1` with a deadline: a hung pool must not hang readiness probes. */
async function ping(db: Kysely<AccountsDb>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      sql`select 1`.execute(db),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    throw databaseError(err, true);
  } finally {
    clearTimeout(timer);
  }
}

export interface OpenDatabaseOptions {
  /** PostgreSQL only: use (and create if missing) this schema, e.g. one per test file. */
  schema?: string | undefined;
  /** Run the migrations (default true). */
  migrate?: boolean;
  /** Called when an idle PostgreSQL connection fails (the pool replaces it). */
  onPoolError?: (err: Error) => void;
}

// Each driver is loaded only when it is the one configured (they cost memory in every process).
const require = createRequire(import.meta.url);
const loadPg = () => require('pg') as typeof import('pg');
const loadSqlite = () => require('better-sqlite3') as typeof import('better-sqlite3');

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A start-up error that names the database and the setting that points at it. */
function unreachable(config: Pick<Config, 'databaseUrl'>, where: string, err: unknown): Error {
  const why = (err as Error).message || String(err);
  const what = config.databaseUrl ? `PostgreSQL at ${where} (DATABASE_URL) is not reachable` : `the SQLite database ${where} (DATA_DIR) cannot be opened`;
  return new Error(`${what}: ${why}`, { cause: err });
}

export function sqlitePath(config: Pick<Config, 'dataDir'>): string {
  return path.join(config.dataDir, 'accounts.sqlite');
}

export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir'>, opts: OpenDatabaseOptions = {}): Promise<Database> {
  const { schema } = opts;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new Error(`database schema name "${schema}" must match ${SCHEMA_NAME}`);
  }
  let database: Database;
  if (config.databaseUrl) {
    const pg = loadPg();
    if (schema) {
      // Create the schema once, before the pool sets it as every connection's search_path.
      const client = new pg.Client({ connectionString: config.databaseUrl, connectionTimeoutMillis: 5000 });
      await client.connect().catch((err: unknown) => {
        throw unreachable(config, maskPassword(config.databaseUrl!), err);
      });
      try {
        await client.query(`create schema if not exists "${schema}"`);
      } finally {
        await client.end();
      }
    }
    const pool = new pg.Pool({
      connectionString: config.databaseUrl,
      max: 10,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
      ...(schema ? { options: `-c search_path="${schema}"` } : {}),
    });
    pool.on('error', (err) => opts.onPoolError?.(err));
    // A connection that dies while it is checked out (handed to a query, or between the queries of
    // a transaction) emits 'error' on its client, which pg leaves to the caller: unheard, it would
    // end the process. The query under way fails by itself and the pool drops the client; idle
    // ones are reported by the pool ('error' above).
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<AccountsDb>({ dialect: new PostgresDialect({ pool }) });
    database = {
      db,
      dialect: 'postgres',
      where: maskPassword(config.databaseUrl) + (schema ? ` (schema ${schema})` : ''),
      ping: () => ping(db),
      close: () => db.destroy(),
    };
  } else {
    const BetterSqlite3 = loadSqlite();
    const file = sqlitePath(config);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    let journalMode = '';
    const db = new Kysely<AccountsDb>({
      dialect: new SqliteDialect({
        database: async () => {
          const conn = new BetterSqlite3(file);
          // WAL: readers never wait for the writer, and several processes may share the file.
          journalMode = String(conn.pragma('journal_mode = WAL', { simple: true }));
          conn.pragma('synchronous = NORMAL');
          conn.pragma('foreign_keys = ON');
          // The CLI and the server may write at the same time: wait for the lock instead of failing.
          conn.pragma('busy_timeout = 5000');
          return conn;
        },
      }),
    });
    database = {
      db, dialect: 'sqlite', where: file, ping: () => ping(db), close: () => db.destroy(),
      get journalMode() {
        return journalMode;
      },
    };
  }
  try {
    // Fails fast (and clearly) when the database cannot be reached.
    await sql`select 1`.execute(database.db).catch((err: unknown) => {
      throw unreachable(config, database.where, err);
    });
    if (opts.migrate !== false) await migrateToLatest(database.db as Kysely<unknown>, database.dialect, schema);
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
  return database;
}

/** Drops a PostgreSQL schema and everything in it (tests). */
export async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`bad schema name ${schema}`);
  const client = new (loadPg().Client)({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}
