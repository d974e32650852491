// JSON schemas of the login API (validation, serialization and the OpenAPI document; the named
// ones are registered by src/docs/openapi.ts).
import { ROLES } from './principal.js';
import { PASSWORD_MAX, PASSWORD_MIN } from './passwords.js';

export const role = { type: 'string', enum: [...ROLES] } as const;
export const password = { type: 'string', minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX, description: `${PASSWORD_MIN} to ${PASSWORD_MAX} characters` } as const;

export const tokenPairProperties = {
  access_token: { type: 'string', description: 'Short-lived HS256 JWT, type "access"' },
  refresh_token: { type: 'string', description: 'Long-lived HS256 JWT, type "refresh"; single use' },
} as const;

const tokenPairSchema = {
  $id: 'TokenPair',
  type: 'object',
  properties: tokenPairProperties,
  required: ['access_token', 'refresh_token'],
} as const;

const loginReplySchema = {
  $id: 'LoginReply',
  type: 'object',
  properties: { ...tokenPairProperties, role, username: { type: 'string' }, user_id: { type: 'integer' } },
  required: ['access_token', 'refresh_token', 'role', 'username', 'user_id'],
} as const;

export const authSchemas = [tokenPairSchema, loginReplySchema];
export const tokenPair = { $ref: 'TokenPair#' } as const;
export const loginReply = { $ref: 'LoginReply#' } as const;
