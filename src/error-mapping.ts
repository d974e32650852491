// The one place where errors become what a client sees: catalogue errors (errors.ts) keep their
// status and code; the framework's errors and the drivers' (PostgreSQL, SQLite, ioredis) are mapped
// onto the catalogue, with the original kept as `cause` for the logs.
import type { FastifyError } from 'fastify';
import { Close, CloseReason, Errors, withProblems, type ErrorCode, type Problem } from './errors.js';

interface DriverError {
  code?: unknown;
  message?: unknown;
  statusCode?: unknown;
}

/** An error of the catalogue (created from Errors.*): passed on unchanged. */
export function isCatalogueError(err: unknown): err is Error & { code: ErrorCode; statusCode: number } {
  const e = err as DriverError | null;
  return typeof e?.statusCode === 'number' && typeof e.code === 'string' && e.code in Errors;
}

// ---------------------------------------------------------------- driver errors

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

/** True for driver errors that mean "the database or Redis cannot be reached right now". */
export function isUnavailable(err: unknown): boolean {
  const e = err as DriverError | null;
  if (!e) return false;
  if (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('SQLITE_IOERR'))) return true;
  const msg = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED|enableOfflineQueue|Connection is closed|MaxRetriesPerRequest|Reached the max retries|Command timed out|database is locked|driver has already been destroyed|no answer within/i.test(msg);
}

/**
 * A failed accounts-database call: catalogue errors unchanged, "unreachable" as 503 DB_UNAVAILABLE,
 * anything else (a bug) unchanged. `always`: every failure counts as unreachable (readiness pings).
 */
export function databaseError(err: unknown, always = false): Error {
  if (isCatalogueError(err)) return err;
  if (always || isUnavailable(err)) return new Errors.DB_UNAVAILABLE({ cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

/** A failed Redis call of the accounts side (login limits, session news): 503 REDIS_UNAVAILABLE. */
export function redisError(err: unknown): Error {
  if (isCatalogueError(err)) return err;
  if (isUnavailable(err)) return new Errors.REDIS_UNAVAILABLE({ cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

/** A frame store that cannot answer (Redis lost, store closed): 503 STORE_UNAVAILABLE. */
export function frameStoreError(err: unknown): Error {
  if (isCatalogueError(err)) return err;
  return new Errors.STORE_UNAVAILABLE({ cause: err });
}

/** Runs `fn`, mapping its failure with `map`. */
export async function mapped<T>(map: (err: unknown) => Error, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw map(err);
  }
}

// ---------------------------------------------------------------- HTTP

export interface HttpErrorReply {
  status: number;
  code: ErrorCode;
  detail: string;
  /** Every problem found (validation), when there are any. */
  problems?: Problem[];
}

interface SchemaError {
  instancePath?: string;
  message?: string;
  params?: { additionalProperty?: unknown };
}

/** A failed JSON-schema validation (ajv reports every error: allErrors), as the catalogue's problems. */
function schemaProblems(err: FastifyError): Problem[] {
  const where = err.validationContext ?? 'body';
  return (err.validation as SchemaError[]).map((v) => {
    const extra = v.params?.additionalProperty;
    return {
      field: `${where}${v.instancePath ?? ''}`,
      message: `${v.message ?? 'is invalid'}${typeof extra === 'string' ? ` ('${extra}')` : ''}`,
    };
  });
}

/** Any error thrown while serving a request, as the catalogue's {detail, code} with its status. */
export function httpReply(err: FastifyError): HttpErrorReply {
  const status = err.statusCode ?? 500;
  const problems = (err as { problems?: Problem[] }).problems;
  if (isCatalogueError(err) && status < 500) return { status, code: err.code, detail: err.message, ...(problems ? { problems } : {}) };
  if (err.validation) {
    const e = withProblems((d) => new Errors.VALIDATION(d), schemaProblems(err));
    return { status: 422, code: 'VALIDATION', detail: e.message, problems: e.problems };
  }
  // The router's refusals: their messages echo the path, which is not worth sending back.
  if (err.code === 'FST_ERR_BAD_URL') return { status: 400, code: 'BAD_REQUEST', detail: 'URL is not valid (bad percent-encoding)' };
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return { status: 414, code: 'URI_TOO_LONG', detail: 'a path segment is too long' };
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, code: 'PAYLOAD_TOO_LARGE', detail: 'request body is too large' };
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', detail: err.message };
  if (status === 429) return { status, code: 'RATE_LIMITED', detail: err.message };
  if (status === 503) return { status, code: isCatalogueError(err) ? err.code : 'STORE_UNAVAILABLE', detail: err.message };
  if (status >= 400 && status < 500) return { status, code: 'BAD_REQUEST', detail: err.message };
  return { status: 500, code: 'INTERNAL', detail: 'Internal server error' };
}

/** The JSON body of an error reply. */
export function errorJson(r: HttpErrorReply): { detail: string; code: ErrorCode; errors?: Problem[] } {
  return r.problems ? { detail: r.detail, code: r.code, errors: r.problems } : { detail: r.detail, code: r.code };
}

/**
 * A request Node's HTTP parser refused before any route saw it (headers too large, bad framing, an
 * unknown method, conflicting lengths, a request that took too long to arrive), as the catalogue's
 * reply. Only the parser's short reason is kept: the raw bytes may hold a token.
 */
export function clientErrorReply(err: { code?: unknown; reason?: unknown }): HttpErrorReply {
  const reason = typeof err.reason === 'string' ? err.reason : 'malformed request';
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'HEADER_TOO_LARGE', detail: new Errors.HEADER_TOO_LARGE().message };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { status: 408, code: 'REQUEST_TIMEOUT', detail: 'Request took too long to arrive' };
    case 'HPE_INVALID_METHOD':
      return { status: 400, code: 'BAD_REQUEST', detail: 'Unknown HTTP method' };
    default:
      return { status: 400, code: 'BAD_REQUEST', detail: `Malformed HTTP request: ${reason}` };
  }
}

// ---------------------------------------------------------------- sockets

export interface SocketRefusal {
  code: number;
  reason: string;
}

/** Why a socket's token was refused, as its close code and reason (DESIGN.md §2). */
export function socketRefusal(err: unknown): SocketRefusal {
  const code = (err as DriverError | null)?.code;
  if (code === 'TOKEN_NOT_ACTIVE') return { code: Close.POLICY, reason: CloseReason.TOKEN_NOT_ACTIVE };
  if (code === 'MISSING_TOKEN') return { code: Close.POLICY, reason: CloseReason.MISSING_TOKEN };
  if (code === 'INVALID_TOKEN' || code === 'TOKEN_EXPIRED') return { code: Close.POLICY, reason: CloseReason.INVALID_TOKEN };
  // The accounts database or Redis is down: not the client's fault, let it retry.
  return { code: Close.TRY_AGAIN_LATER, reason: CloseReason.SERVICE_UNAVAILABLE };
}

/**
 * The reply to a producer's socket message that failed: the message (and code) of a client error,
 * a generic one for the rest; `unexpected` errors (not from the catalogue) are worth a log line.
 */
export function socketErrorReply(err: unknown): { reply: { status: 'error'; message: string; code: string }; unexpected: boolean; clientError: boolean } {
  const e = err as { statusCode?: unknown; message?: string; code?: unknown };
  const unexpected = typeof e.statusCode !== 'number';
  const clientError = !unexpected && (e.statusCode as number) < 500;
  const code = isCatalogueError(err) ? err.code : 'INTERNAL';
  return {
    reply: { status: 'error', message: clientError ? (e.message ?? 'error') : 'Failed to store frame: service unavailable', code },
    unexpected,
    clientError,
  };
}
