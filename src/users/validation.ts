// Rules for user and site names, shared by the JSON schemas (so they show in the OpenAPI document)
// and by the service (createUser is also called by the CLI and tests, without HTTP).
import { Errors } from '../errors.js';
import { ROLES, type Role } from '../auth/principal.js';

/** 2 to 64 characters: letters, digits and . _ @ -, starting with a letter or a digit. Case matters. */
export const USERNAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$';
export const USERNAME_RULE = '2 to 64 characters: letters, digits and . _ @ -, starting with a letter or digit';
/** 1 to 200 characters, no control characters, no leading or trailing space (a site is a label). */
export const SITE_PATTERN = '^[^\\s\\x00-\\x1f\\x7f](?:[^\\x00-\\x1f\\x7f]{0,198}[^\\s\\x00-\\x1f\\x7f])?$';
export const SITE_RULE = '1 to 200 characters, no control characters, no leading or trailing spaces';
export const MAX_SITES_PER_USER = 1000;

const usernameRe = new RegExp(USERNAME_PATTERN);
const siteRe = new RegExp(SITE_PATTERN, 'u');

export function checkUsername(username: unknown): string {
  if (typeof username !== 'string' || !usernameRe.test(username)) throw new Errors.VALIDATION(`username must be ${USERNAME_RULE}`);
  return username;
}

export function checkRole(role: unknown): Role {
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    throw new Errors.VALIDATION(`role must be one of ${ROLES.join(', ')}`);
  }
  return role as Role;
}

export function checkSiteName(name: unknown): string {
  if (typeof name !== 'string' || !siteRe.test(name)) throw new Errors.VALIDATION(`site name must be ${SITE_RULE}`);
  return name;
}

/** Checks and de-duplicates a list of site names (order kept). */
export function checkSiteNames(names: unknown): string[] {
  if (!Array.isArray(names)) throw new Errors.VALIDATION('sites must be a list of site names');
  if (names.length > MAX_SITES_PER_USER) throw new Errors.VALIDATION(`at most ${MAX_SITES_PER_USER} sites per user`);
  return [...new Set(names.map(checkSiteName))];
}
