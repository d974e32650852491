// The page's language: one catalogue file per language in locales/ (adding a language is adding a
// file), remembered in localStorage, defaulting from the browser. Texts made with tr() follow a
// language switch by themselves.
import { interpolate, pickLanguage, type Catalogue } from './i18n-core.js';
import type { Lookup } from './warnings.js';

const files = import.meta.glob<Catalogue>('./locales/*.json', { eager: true, import: 'default' });

export const catalogues: Record<string, Catalogue> = {};
for (const [path, cat] of Object.entries(files)) catalogues[path.replace(/^.*\/([^/]+)\.json$/, '$1')] = cat;

const english = catalogues.en!;
const STORAGE_KEY = 'framestream.language';

/** Languages on offer, English first, the others by their own names. */
export const languages: Array<{ code: string; name: string }> = Object.entries(catalogues)
  .map(([code, cat]) => ({ code, name: cat._language ?? code }))
  .sort((a, b) => (a.code === 'en' ? -1 : b.code === 'en' ? 1 : a.code.localeCompare(b.code)));

function remembered(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

let code = pickLanguage(remembered(), navigator.languages ?? [navigator.language], Object.keys(catalogues));
let current = catalogues[code]!;
document.documentElement.lang = code;

export function language(): string {
  return code;
}

/** A catalogue text (English when the language lacks the key; the key itself is never shown). */
export function t(key: string, vars?: Record<string, string | number>): string {
  const s = current[key] ?? english[key];
  return s === undefined ? '' : interpolate(s, vars);
}

/** Look-up for warnings and classes: undefined when no catalogue knows the key. */
export const lookup: Lookup = (key, vars) => {
  const s = current[key] ?? english[key];
  return s === undefined ? undefined : interpolate(s, vars);
};

type Binding = { node: Node; render: () => void };
let bindings: Binding[] = [];
const listeners = new Set<() => void>();

/** A text node that shows `key` and follows language switches. */
export function tr(key: string, vars?: Record<string, string | number> | (() => Record<string, string | number>)): Text {
  const node = document.createTextNode('');
  const render = () => {
    node.data = t(key, typeof vars === 'function' ? vars() : vars);
  };
  render();
  bindings.push({ node, render });
  return node;
}

/** Sets an attribute (placeholder, aria-label, title) from the catalogue, following switches. */
export function trAttr<E extends Element>(el: E, attr: string, key: string, vars?: Record<string, string | number>): E {
  const render = () => el.setAttribute(attr, t(key, vars));
  render();
  bindings.push({ node: el, render });
  return el;
}

export function onLanguageChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function setLanguage(next: string): void {
  if (!catalogues[next] || next === code) return;
  code = next;
  current = catalogues[next]!;
  document.documentElement.lang = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
  bindings = bindings.filter((b) => b.node.isConnected);
  for (const b of bindings) b.render();
  for (const fn of listeners) fn();
}

/** "12 s", "3 min": how long ago, in the current language. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 1) return t('age.now');
  if (s < 120) return t('age.seconds', { n: s });
  const m = Math.floor(s / 60);
  if (m < 120) return t('age.minutes', { n: m });
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return t('age.hours', { n: hrs });
  return t('age.days', { n: Math.floor(hrs / 24) });
}

/** A wall-clock time in the current language (with the date when it is not today). */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  const opts: Intl.DateTimeFormatOptions = today
    ? { hour: '2-digit', minute: '2-digit', second: '2-digit' }
    : { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' };
  try {
    return new Intl.DateTimeFormat(code, opts).format(d);
  } catch {
    return d.toLocaleString();
  }
}

/** Drops bindings of nodes that left the page (views call it when they are replaced). */
export function pruneBindings(): void {
  bindings = bindings.filter((b) => b.node.isConnected);
}
