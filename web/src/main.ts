// The viewer's entry point: the top bar, the hash router and the views it shows.
import './stats.js';
import { h } from './dom.js';
import { language, languages, onLanguageChange, pruneBindings, setLanguage, t, tr } from './i18n.js';
import { parseRoute, routeHash, type Route } from './routes.js';
import { session, type EndReason } from './session.js';
import { adminSitesView } from './views/admin-sites.js';
import { adminUsersView } from './views/admin-users.js';
import { EventHistoryView } from './views/event-history.js';
import { loginView } from './views/login.js';
import { sitesView } from './views/sites.js';
import type { View } from './views/view.js';
import { WallView } from './views/wall.js';

const root = document.getElementById('app')!;
const topbar = h('header', { class: 'topbar' });
const main = h('main', { id: 'main' });
root.replaceChildren(topbar, main);

let view: View | null = null;
let viewRoute: Route | null = null;
let loginNotice: string | null = null;
/** Where to go once logged in (the bookmarked page that sent us to the login). */
let afterLogin = '#/';

function noticeFor(why: EndReason): string {
  if (why === 'logged_out') return t('session.logged_out');
  if (why === 'ended') return t('session.ended');
  return t('session.site_forbidden', { site: why.siteForbidden });
}

function languageSelect(): HTMLSelectElement {
  const sel = h(
    'select',
    { class: 'language', name: 'language', on: { change: () => setLanguage(sel.value) } },
    ...languages.map((l) => h('option', { value: l.code, selected: l.code === language() }, l.name)),
  );
  sel.setAttribute('aria-label', t('nav.language'));
  return sel;
}

function renderTopbar(): void {
  const user = session.user;
  const nav = user
    ? h(
        'nav',
        null,
        h('a', { href: routeHash({ name: 'sites' }) }, tr('nav.sites')),
        user.role === 'admin' ? h('a', { href: routeHash({ name: 'users' }) }, tr('nav.users')) : null,
        user.role === 'admin' ? h('a', { href: routeHash({ name: 'admin-sites' }) }, tr('nav.manage_sites')) : null,
      )
    : null;
  const who = user
    ? h(
        'div',
        { class: 'who' },
        h('span', { class: 'user' }, t('nav.signed_in', { user: user.username, role: t(`role.${user.role}`) })),
        h('button', { type: 'button', class: 'logout', on: { click: () => void session.logout() } }, tr('nav.logout')),
      )
    : null;
  topbar.replaceChildren(...[h('a', { class: 'brand', href: '#/' }, t('app.name')), nav, h('div', { class: 'spacer' }), languageSelect(), who].filter((x): x is HTMLElement => x !== null));
}

function build(route: Route): View {
  const user = session.user!;
  switch (route.name) {
    case 'sites':
      return sitesView(user);
    case 'wall':
    case 'camera':
      return new WallView(route.site, route, {
        onRefused: (site, reason) => {
          if (reason === 'Not allowed to view this site') void session.logout({ siteForbidden: site });
          else session.end('ended');
        },
      });
    case 'events':
      return new EventHistoryView(route.site, route.filters);
    case 'users':
      if (user.role === 'admin') return adminUsersView(user);
      break;
    case 'admin-sites':
      if (user.role === 'admin') return adminSitesView();
      break;
    default:
      break;
  }
  const el = h('section', { class: 'not-found' }, h('p', null, tr('app.not_found')), h('a', { href: '#/' }, tr('nav.sites')));
  return { el, destroy: () => el.remove() };
}

function show(route: Route): void {
  const user = session.user;
  if (!user && route.name !== 'login') {
    afterLogin = location.hash || '#/';
    location.replace(routeHash({ name: 'login' }));
    return;
  }
  if (user && route.name === 'login') {
    location.replace(afterLogin);
    return;
  }
  if (view?.update?.(route)) {
    viewRoute = route;
    return;
  }
  view?.destroy();
  pruneBindings();
  if (route.name === 'login') {
    const notice = loginNotice;
    loginNotice = null;
    view = loginView(notice, () => {
      const to = afterLogin;
      afterLogin = '#/';
      renderTopbar();
      location.replace(to === routeHash({ name: 'login' }) ? '#/' : to);
    });
  } else view = build(route);
  viewRoute = route;
  main.replaceChildren(view.el);
  renderTopbar();
}

session.onEnd((why) => {
  loginNotice = noticeFor(why);
  view?.destroy();
  view = null;
  viewRoute = null;
  const here = location.hash;
  if (here && here !== routeHash({ name: 'login' })) afterLogin = here;
  renderTopbar();
  if (parseRoute(location.hash).name === 'login') show({ name: 'login' });
  else location.replace(routeHash({ name: 'login' }));
});

onLanguageChange(() => {
  renderTopbar();
  // Admin pages hold texts made at build time (role names in lists): rebuild them.
  if (viewRoute && (viewRoute.name === 'users' || viewRoute.name === 'admin-sites')) {
    const r = viewRoute;
    view?.destroy();
    view = build(r);
    main.replaceChildren(view.el);
  }
});

window.addEventListener('hashchange', () => show(parseRoute(location.hash)));
show(parseRoute(location.hash));
