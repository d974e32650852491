// The one catalogue of errors this service returns. Each has a stable code (clients may branch on
// it), an HTTP status and a message for a person. Replies are {"detail": message, "code": code}
// (`detail` is what the old FastAPI backend sent, so old clients keep reading it). How other errors
// (the framework's, the drivers') become these: error-mapping.ts.
import createError from '@fastify/error';

export const Errors = {
  BAD_REQUEST: createError('BAD_REQUEST', '%s', 400),
  REQUEST_TIMEOUT: createError('REQUEST_TIMEOUT', '%s', 408),
  MISSING_TOKEN: createError('MISSING_TOKEN', 'Not authenticated', 401),
  INVALID_TOKEN: createError('INVALID_TOKEN', 'Invalid token', 401),
  TOKEN_EXPIRED: createError('TOKEN_EXPIRED', 'Token has expired', 401),
  TOKEN_NOT_ACTIVE: createError('TOKEN_NOT_ACTIVE', 'Token not active', 401),
  BAD_CREDENTIALS: createError('BAD_CREDENTIALS', 'Wrong username or password', 401),
  WRONG_PASSWORD: createError('WRONG_PASSWORD', 'Current password is wrong', 401),
  FORBIDDEN: createError('FORBIDDEN', '%s', 403),
  SITE_FORBIDDEN: createError('SITE_FORBIDDEN', "Not allowed to access site '%s'", 403),
  UPLOAD_FORBIDDEN: createError('UPLOAD_FORBIDDEN', "Role '%s' may not upload frames (uploaders are admin and model_manager)", 403),
  NOT_FOUND: createError('NOT_FOUND', '%s', 404),
  DUPLICATE: createError('DUPLICATE', '%s', 409),
  PAYLOAD_TOO_LARGE: createError('PAYLOAD_TOO_LARGE', '%s', 413),
  URI_TOO_LONG: createError('URI_TOO_LONG', '%s', 414),
  NOT_AN_IMAGE: createError('NOT_AN_IMAGE', '%s', 415),
  UNSUPPORTED_MEDIA_TYPE: createError('UNSUPPORTED_MEDIA_TYPE', '%s', 415),
  VALIDATION: createError('VALIDATION', '%s', 422),
  HEADER_TOO_LARGE: createError('HEADER_TOO_LARGE', 'Request headers are too large', 431),
  UPGRADE_REQUIRED: createError('UPGRADE_REQUIRED', 'This endpoint is a WebSocket: connect with an Upgrade request', 426),
  RATE_LIMITED: createError('RATE_LIMITED', '%s, retry in %s seconds', 429),
  STORE_UNAVAILABLE: createError('STORE_UNAVAILABLE', 'Frame store unavailable, try again shortly', 503),
  DB_UNAVAILABLE: createError('DB_UNAVAILABLE', 'Accounts database unavailable, try again shortly', 503),
  REDIS_UNAVAILABLE: createError('REDIS_UNAVAILABLE', 'Redis unavailable, try again shortly', 503),
  INTERNAL: createError('INTERNAL', 'Internal server error', 500),
} as const;

export type ErrorCode = keyof typeof Errors;

/** 429 with the seconds to wait (and what is limited); the app's error handler sends them as Retry-After. */
export function rateLimited(seconds: number, what = 'Too many requests'): Error & { retryAfter: number } {
  const s = Math.max(1, Math.ceil(seconds));
  return Object.assign(new Errors.RATE_LIMITED(what, String(s)), { retryAfter: s });
}

/** One thing wrong with a request: the field (or place) and what is wrong with it. */
export interface Problem {
  field: string;
  message: string;
}

/** At most this many problems are reported for one request. */
export const MAX_PROBLEMS = 20;

/**
 * One error reporting every problem of a request (at most MAX_PROBLEMS): `detail` reads
 * "field message; field message", and `problems` carries them as a list for programs.
 */
export function withProblems<E extends Error>(make: (detail: string) => E, problems: Problem[]): E & { problems: Problem[] } {
  const shown = problems.slice(0, MAX_PROBLEMS);
  const more = problems.length - shown.length;
  const detail = shown.map((p) => (p.field ? `${p.field} ${p.message}` : p.message)).join('; ') + (more > 0 ? ` (and ${more} more)` : '');
  return Object.assign(make(detail), { problems: shown });
}

/** WebSocket close codes and reasons (DESIGN.md §2). Reasons stay short: at most 123 bytes. */
export const Close = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  TRY_AGAIN_LATER: 1013,
} as const;

export const CloseReason = {
  MISSING_TOKEN: 'Missing authentication token',
  INVALID_TOKEN: 'Invalid token',
  TOKEN_NOT_ACTIVE: 'Token not active',
  SITE_FORBIDDEN: 'Not allowed to view this site',
  TOO_SLOW: 'Too slow',
  TOO_BIG: 'Message too big',
  RECEIVE_TIMEOUT: 'Receive timeout',
  SHUTDOWN: 'Server shutting down',
  TOO_MANY_VIEWERS: 'Too many viewers',
  STORE_UNAVAILABLE: 'Frame store unavailable',
  SERVICE_UNAVAILABLE: 'Service unavailable',
  INTERNAL: 'Internal error',
} as const;
