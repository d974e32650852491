// JSON schemas of the users API (validation, serialization and the OpenAPI document; the named
// ones are registered by src/docs/openapi.ts).
import { role } from '../auth/schemas.js';
import { MAX_SITES_PER_USER, SITE_PATTERN, SITE_RULE, USERNAME_PATTERN, USERNAME_RULE } from './validation.js';

export const username = { type: 'string', pattern: USERNAME_PATTERN, description: USERNAME_RULE } as const;
export const siteName = { type: 'string', pattern: SITE_PATTERN, minLength: 1, maxLength: 200, description: `A site (label) name: ${SITE_RULE}` } as const;
export const siteList = { type: 'array', items: siteName, maxItems: MAX_SITES_PER_USER, description: 'Site names; missing sites are created' } as const;

const userSchema = {
  $id: 'User',
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

const siteSchema = {
  $id: 'Site',
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'name', 'created_at', 'updated_at'],
} as const;

/** Ids in paths: digits (the app does not coerce types, so they are validated as strings). */
export const idParams = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,8}$', description: 'Numeric id' } },
  required: ['id'],
} as const;

export const userSchemas = [userSchema, siteSchema];
export const user = { $ref: 'User#' } as const;
export const site = { $ref: 'Site#' } as const;
