// JSON schemas every part of the HTTP API shares (validation, serialization and the OpenAPI
// document). Schemas with an `$id` are registered once (src/docs/openapi.ts) and referenced as
// `{ $ref: 'Name#' }`: the OpenAPI document lists them by name under components.schemas. The error
// body itself, `Error`, is declared beside the catalogue (errors.ts).
const err = (description: string) => ({ $ref: 'Error#', description });

export const errors = {
  401: err('Missing, invalid, expired or revoked token (MISSING_TOKEN, INVALID_TOKEN, TOKEN_EXPIRED, TOKEN_NOT_ACTIVE)'),
  403: err('Authenticated but not allowed (FORBIDDEN)'),
  accountDisabled: err('Right password, but the account is deactivated (ACCOUNT_DISABLED)'),
  404: err('No such user or site (NOT_FOUND)'),
  409: err('Name already taken (DUPLICATE)'),
  422: err('A field fails validation, or the change would lock admins out (VALIDATION)'),
  429: err('Too many failed attempts; see Retry-After (RATE_LIMITED)'),
  503: err('Accounts database or Redis unavailable (DB_UNAVAILABLE, REDIS_UNAVAILABLE)'),
} as const;

export const statusSchema = {
  $id: 'StatusOk',
  type: 'object',
  properties: { status: { type: 'string', enum: ['ok'] } },
  required: ['status'],
} as const;

export const status = { $ref: 'StatusOk#' } as const;
export const noContent = { type: 'null', description: 'Done' } as const;
export const bearer = [{ bearerAuth: [] }];
