// JSON schemas of the login API (validation, serialization and the OpenAPI document).
import { ROLES } from './principal.js';
import { PASSWORD_MAX, PASSWORD_MIN } from './passwords.js';

export const role = { type: 'string', enum: [...ROLES] } as const;
export const password = { type: 'string', minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX, description: `${PASSWORD_MIN} to ${PASSWORD_MAX} characters` } as const;

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
