// Catalogue look-ups and language choice, without the DOM (the page's i18n.ts wires them up).

export type Catalogue = Record<string, string>;

/** Replaces {name} placeholders; a placeholder without a value stays visible as written. */
export function interpolate(template: string, vars?: Record<string, string | number>): string {
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));
}

/** Look-up in one catalogue only (undefined when it lacks the key). */
export function lookupIn(cat: Catalogue) {
  return (key: string, vars?: Record<string, string | number>): string | undefined => {
    const s = cat[key];
    return s === undefined ? undefined : interpolate(s, vars);
  };
}

/** Picks a language: the remembered one, else the browser's first match (exact, then by its base language). */
export function pickLanguage(remembered: string | null, browser: readonly string[], available: readonly string[], fallback = 'en'): string {
  if (remembered && available.includes(remembered)) return remembered;
  const lower = available.map((a) => a.toLowerCase());
  for (const wanted of browser) {
    const w = wanted.toLowerCase();
    const exact = lower.indexOf(w);
    if (exact >= 0) return available[exact]!;
    // Chinese: Hant / Taiwan / Hong Kong read Traditional, others Simplified.
    if (w.startsWith('zh')) {
      const trad = /hant|tw|hk|mo/.test(w);
      const pick = trad ? 'zh-tw' : 'zh-cn';
      if (lower.includes(pick)) return available[lower.indexOf(pick)]!;
    }
    const base = w.split('-')[0]!;
    const byBase = lower.findIndex((a) => a.split('-')[0] === base);
    if (byBase >= 0) return available[byBase]!;
  }
  return available.includes(fallback) ? fallback : available[0]!;
}
