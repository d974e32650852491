// JSON schemas of the accounts API (validation, serialization and the OpenAPI document).
import { ROLES } from '../auth/principal.js';
import { PASSWORD_MAX, PASSWORD_MIN } from '../auth/passwords.js';
import { MAX_SITES_PER_USER, SITE_PATTERN, SITE_RULE, USERNAME_PATTERN, USERNAME_RULE } from './validation.js';

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
  accountDisabled: err('Right password, but the account is deactivated (ACCOUNT_DISABLED)'),
  404: err('No such user or site (NOT_FOUND)'),
  409: err('Name already taken (DUPLICATE)'),
  422: err('A field fails validation, or the change would lock admins out (VALIDATION)'),
  429: err('Too many failed attempts; see Retry-After (RATE_LIMITED)'),
  503: err('Accounts database or Redis unavailable (DB_UNAVAILABLE)'),
} as const;

export const username = { type: 'string', pattern: USERNAME_PATTERN, description: USERNAME_RULE } as const;
export const password = { type: 'string', minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX, description: `${PASSWORD_MIN} to ${PASSWORD_MAX} characters` } as const;
export const role = { type: 'string', enum: [...ROLES] } as const;
export const siteName = { type: 'string', pattern: SITE_PATTERN, minLength: 1, maxLength: 200, description: `A site (label) name: ${SITE_RULE}` } as const;
export const siteList = { type: 'array', items: siteName, maxItems: MAX_SITES_PER_USER, description: 'Site names; missing sites are created' } as const;

export const user = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    username: { type: 'string' },
    role,
    is_active: { type: 'boolean' },
    sites: { type: 'array', items: { type: 'string' } },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'username', 'role', 'is_active', 'sites', 'created_at', 'updated_at'],
} as const;

export const site = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'name', 'created_at', 'updated_at'],
} as const;

export const tokenPair = {
  type: 'object',
  properties: {
    access_token: { type: 'string', description: 'Short-lived HS256 JWT, type "access"' },
    refresh_token: { type: 'string', description: 'Long-lived HS256 JWT, type "refresh"; single use' },
  },
  required: ['access_token', 'refresh_token'],
} as const;

export const loginReply = {
  type: 'object',
  properties: { ...tokenPair.properties, role, username: { type: 'string' }, user_id: { type: 'integer' } },
  required: ['access_token', 'refresh_token', 'role', 'username', 'user_id'],
} as const;

export const status = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['ok'] } },
  required: ['status'],
} as const;

/** Ids in paths: digits (the app does not coerce types, so they are validated as strings). */
export const idParams = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,8}$', description: 'Numeric id' } },
  required: ['id'],
} as const;

export const noContent = { type: 'null', description: 'Done' } as const;
export const bearer = [{ bearerAuth: [] }];
