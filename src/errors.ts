// The one catalogue of errors this service returns. Each has a stable code (clients may branch on
// it), an HTTP status and a message for a person. Replies are {"detail": message, "code": code}
// (`detail` is what the old FastAPI backend sent, so old clients keep reading it). How other errors
// (the framework's, the drivers') become these: error-mapping.ts.
import createError from '@fastify/error';

export const Errors = {
  BAD_REQUEST: createError('BAD_REQUEST', '%s', 400),
  MISSING_TOKEN: createError('MISSING_TOKEN', 'Not authenticated', 401),
  INVALID_TOKEN: createError('INVALID_TOKEN', 'Invalid token', 401),
  TOKEN_EXPIRED: createError('TOKEN_EXPIRED', 'Token has expired', 401),
  TOKEN_NOT_ACTIVE: createError('TOKEN_NOT_ACTIVE', 'Token not active', 401),
  BAD_CREDENTIALS: createError('BAD_CREDENTIALS', 'Wrong username or password', 401),
  WRONG_PASSWORD: createError('WRONG_PASSWORD', 'Current password is wrong', 401),
  FORBIDDEN: createError('FORBIDDEN', '%s', 403),
  SITE_FORBIDDEN: createError('SITE_FORBIDDEN', "Not allowed to access site '%s'", 403),
  ORIGIN_FORBIDDEN: createError('ORIGIN_FORBIDDEN', "Pages from origin '%s' may not open sockets here (CORS_ORIGINS)", 403),
  NOT_FOUND: createError('NOT_FOUND', '%s', 404),
  DUPLICATE: createError('DUPLICATE', '%s', 409),
  PAYLOAD_TOO_LARGE: createError('PAYLOAD_TOO_LARGE', '%s', 413),
  NOT_AN_IMAGE: createError('NOT_AN_IMAGE', 'file is not an image (expected JPEG or PNG bytes)', 415),
  UNSUPPORTED_MEDIA_TYPE: createError('UNSUPPORTED_MEDIA_TYPE', '%s', 415),
  VALIDATION: createError('VALIDATION', '%s', 422),
  UPGRADE_REQUIRED: createError('UPGRADE_REQUIRED', 'This endpoint is a WebSocket: connect with an Upgrade request', 426),
  RATE_LIMITED: createError('RATE_LIMITED', 'Too many requests, retry in %s seconds', 429),
  STORE_UNAVAILABLE: createError('STORE_UNAVAILABLE', 'Frame store unavailable, try again shortly', 503),
  DB_UNAVAILABLE: createError('DB_UNAVAILABLE', 'Accounts database unavailable, try again shortly', 503),
  REDIS_UNAVAILABLE: createError('REDIS_UNAVAILABLE', 'Redis unavailable, try again shortly', 503),
  INTERNAL: createError('INTERNAL', 'Internal server error', 500),
} as const;

export type ErrorCode = keyof typeof Errors;

/** 429 with the seconds to wait; the app's error handler sends them as Retry-After. */
export function rateLimited(seconds: number): Error & { retryAfter: number } {
  const s = Math.max(1, Math.ceil(seconds));
  return Object.assign(new Errors.RATE_LIMITED(String(s)), { retryAfter: s });
}

/** WebSocket close codes and reasons (DESIGN.md §2). Reasons stay short: at most 123 bytes. */
export const Close = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY: 1008,
  TOO_BIG: 1009,
  TRY_AGAIN_LATER: 1013,
} as const;

export const CloseReason = {
  MISSING_TOKEN: 'Missing authentication token',
  INVALID_TOKEN: 'Invalid token',
  TOKEN_NOT_ACTIVE: 'Token not active',
  SITE_FORBIDDEN: 'Not allowed to view this site',
  UPLOAD_FORBIDDEN: 'Not allowed to upload',
  TOO_SLOW: 'Too slow',
  TOO_BIG: 'Message too big',
  RECEIVE_TIMEOUT: 'Receive timeout',
  SHUTDOWN: 'Server shutting down',
  TOO_MANY_VIEWERS: 'Too many viewers',
  TOO_MANY_SOCKETS: 'Too many connections for this user',
  STORE_UNAVAILABLE: 'Frame store unavailable',
  SERVICE_UNAVAILABLE: 'Service unavailable',
} as const;
