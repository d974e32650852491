// JSON schemas every part of the HTTP API shares (validation, serialization and the OpenAPI
// document): the error body and the small replies.
export const errorBody = {
  type: 'object',
  description: 'Error: a message for a person and a stable code',
  properties: { detail: { type: 'string' }, code: { type: 'string' } },
  required: ['detail', 'code'],
  additionalProperties: true,
} as const;

const err = (description: string) => ({ ...errorBody, description });

export const errors = {
  401: err('Missing, invalid, expired or revoked token (MISSING_TOKEN, INVALID_TOKEN, TOKEN_EXPIRED, TOKEN_NOT_ACTIVE)'),
  403: err('Authenticated but not allowed (FORBIDDEN)'),
  404: err('No such user or site (NOT_FOUND)'),
  409: err('Name already taken (DUPLICATE)'),
  422: err('A field fails validation, or the change would lock admins out (VALIDATION)'),
  429: err('Too many failed attempts; see Retry-After (RATE_LIMITED)'),
  503: err('Accounts database or Redis unavailable (DB_UNAVAILABLE, REDIS_UNAVAILABLE)'),
} as const;

export const status = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['ok'] } },
  required: ['status'],
} as const;

export const noContent = { type: 'null', description: 'Done' } as const;
export const bearer = [{ bearerAuth: [] }];
