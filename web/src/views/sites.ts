// The site picker: the sites the user may watch (admins: every site, from GET /sites; others:
// their own, from GET /me), each marked live when GET /labels lists it (a camera is running) or
// waiting. Labels with live cameras but no site entry (admins see them) are listed too.
import { api } from '../session.js';
import { h } from '../dom.js';
import { t, tr } from '../i18n.js';
import { routeHash } from '../routes.js';
import { errorMessage } from '../errors.js';
import type { SessionData } from '../session.js';
import type { View } from './view.js';

const REFRESH_MS = 5000;

export function sitesView(user: SessionData): View {
  const list = h('ul', { class: 'site-list' });
  const status = h('p', { class: 'status' }, tr('app.loading'));
  const el = h('section', { class: 'sites-view' }, h('h1', null, tr('sites.title')), status, list);
  let stopped = false;
  let timer: number | null = null;

  const load = async () => {
    try {
      const [names, live] = await Promise.all([
        user.role === 'admin'
          ? api<{ sites: Array<{ name: string }> }>('GET', '/sites').then((r) => r.sites.map((s) => s.name))
          : api<{ sites: string[] }>('GET', '/me').then((r) => r.sites),
        api<{ labels: string[] }>('GET', '/labels').then((r) => new Set(r.labels)),
      ]);
      if (stopped) return;
      const all = [...new Set([...names, ...live])].sort((a, b) => a.localeCompare(b));
      list.replaceChildren(
        ...all.map((name) => {
          const on = live.has(name);
          return h(
            'li',
            { dataset: { site: name, state: on ? 'live' : 'waiting' } },
            h('a', { href: routeHash({ name: 'wall', site: name }) }, h('span', { class: 'site-name' }, name), h('span', { class: on ? 'badge live' : 'badge waiting' }, tr(on ? 'sites.live' : 'sites.waiting'))),
          );
        }),
      );
      status.textContent = all.length === 0 ? t(user.role === 'admin' ? 'sites.none_admin' : 'sites.none') : '';
      status.hidden = all.length > 0;
    } catch (err) {
      if (stopped) return;
      status.hidden = false;
      status.textContent = t('sites.error', { message: errorMessage(err) });
    }
    if (!stopped) timer = window.setTimeout(() => void load(), REFRESH_MS);
  };
  void load();
  return {
    el,
    destroy() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      el.remove();
    },
  };
}
