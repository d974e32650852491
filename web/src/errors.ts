// API errors in the page's words: which form field a 409/422 belongs to, and a message for a person.
import { ApiError } from './api.js';
import { t } from './i18n.js';

/** A message for errors that are not about one field. */
export function errorMessage(err: unknown): string {
  if (!(err instanceof ApiError)) return t('error.generic', { detail: String(err) });
  if (err.unreachable) return t('error.unreachable');
  if (err.status >= 500) return t('error.unavailable');
  if (err.status === 403) return t('error.forbidden');
  if (err.status === 404) return t('error.not_found');
  if (err.status === 429) return t('error.rate_limited', { seconds: err.retryAfter ?? 60 });
  return t('error.generic', { detail: err.detail });
}

/**
 * The field a 409 or 422 is about, among `fields`, with its message; null when it concerns the
 * whole form. The API's details name the field ("username must be …", "body/password must …").
 */
export function fieldError(err: unknown, fields: readonly string[]): { field: string; message: string } | null {
  if (!(err instanceof ApiError)) return null;
  const d = err.detail.toLowerCase();
  const has = (f: string) => fields.includes(f);
  if (err.status === 409) {
    const f = has('username') ? 'username' : has('name') ? 'name' : null;
    return f ? { field: f, message: t('field.duplicate') } : null;
  }
  if (err.status !== 422) return null;
  if (d.includes('last active admin')) {
    const f = /deactivat/.test(d) && has('is_active') ? 'is_active' : has('role') ? 'role' : null;
    return f ? { field: f, message: t('field.last_admin') } : null;
  }
  if (d.includes('your own account')) return has('is_active') ? { field: 'is_active', message: t('field.self') } : null;
  if (d.includes('username') && has('username')) return { field: 'username', message: t('field.username.rule') };
  if (d.includes('password') && has('password')) return { field: 'password', message: t('field.password.rule') };
  if (d.includes('site') && has('sites')) return { field: 'sites', message: t('field.site.rule') };
  if ((d.includes('name') || d.includes('site')) && has('name')) return { field: 'name', message: t('field.site.rule') };
  if (d.includes('role') && has('role')) return { field: 'role', message: err.detail };
  return null;
}
