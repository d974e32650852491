// Maps driver errors (better-sqlite3, pg, ioredis) onto the error catalogue.
import { Errors } from '../errors.js';

interface DriverError {
  code?: unknown;
  errno?: unknown;
  message?: unknown;
  statusCode?: unknown;
}

/** A unique constraint failed (SQLite or PostgreSQL). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as DriverError | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EPIPE', 'EAI_AGAIN',
  'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_READONLY',
  '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006',
]);

function isCatalogueError(err: unknown): boolean {
  const e = err as DriverError | null;
  return typeof e?.statusCode === 'number' && typeof e.code === 'string' && (e.code as string) in Errors;
}

/** True for errors that mean "the database or Redis cannot be reached right now". */
export function isUnavailable(err: unknown): boolean {
  const e = err as DriverError | null;
  if (!e) return false;
  if (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('SQLITE_IOERR'))) return true;
  const msg = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED|enableOfflineQueue|Connection is closed|MaxRetriesPerRequest|Reached the max retries|database is locked|driver has already been destroyed/i.test(msg);
}

/** Rethrows catalogue errors as they are, turns "unreachable" into DB_UNAVAILABLE, keeps the rest. */
export function mapStoreError(err: unknown): Error {
  if (isCatalogueError(err)) return err as Error;
  if (isUnavailable(err)) {
    const e = new Errors.DB_UNAVAILABLE();
    (e as Error & { cause?: unknown }).cause = err;
    return e;
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** Runs `fn`, mapping its failure with mapStoreError. */
export async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mapStoreError(err);
  }
}
