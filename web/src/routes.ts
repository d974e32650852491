// The page's own addresses are hash routes (#/site/north), so they never collide with API paths
// (/sites, /users, /labels, /login) and every one is bookmarkable with back and forward working.
// The event history keeps its filters in the address's query (#/site/north/events?status=new).
import { filtersQuery, parseFilters, type EventFilters } from './event-list.js';

export type Route =
  | { name: 'login' }
  | { name: 'sites' }
  | { name: 'wall'; site: string }
  | { name: 'camera'; site: string; camera: string }
  | { name: 'events'; site: string; filters: EventFilters }
  | { name: 'users' }
  | { name: 'admin-sites' }
  | { name: 'not-found' };

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split(/\?(.*)/s, 2);
  if (path === '' || path === '/') return { name: 'sites' };
  const parts = path.replace(/^\//, '').split('/');
  if (parts.length === 1 && parts[0] === 'login') return { name: 'login' };
  if (parts[0] === 'admin' && parts.length === 2) {
    if (parts[1] === 'users') return { name: 'users' };
    if (parts[1] === 'sites') return { name: 'admin-sites' };
  }
  if (parts[0] === 'site' && parts.length === 3 && parts[2] === 'events') {
    const site = decode(parts[1]!);
    return site ? { name: 'events', site, filters: parseFilters(query) } : { name: 'not-found' };
  }
  if (parts[0] === 'site' && (parts.length === 2 || (parts.length === 4 && parts[2] === 'camera'))) {
    const site = decode(parts[1]!);
    if (!site) return { name: 'not-found' };
    if (parts.length === 2) return { name: 'wall', site };
    const camera = decode(parts[3]!);
    return camera ? { name: 'camera', site, camera } : { name: 'not-found' };
  }
  return { name: 'not-found' };
}

export function routeHash(r: Route): string {
  switch (r.name) {
    case 'login':
      return '#/login';
    case 'sites':
      return '#/';
    case 'wall':
      return `#/site/${encodeURIComponent(r.site)}`;
    case 'camera':
      return `#/site/${encodeURIComponent(r.site)}/camera/${encodeURIComponent(r.camera)}`;
    case 'events': {
      const q = filtersQuery(r.filters);
      return `#/site/${encodeURIComponent(r.site)}/events${q ? `?${q}` : ''}`;
    }
    case 'users':
      return '#/admin/users';
    case 'admin-sites':
      return '#/admin/sites';
    default:
      return '#/';
  }
}
