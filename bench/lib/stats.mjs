// Medians, ratios, regression and the one results table.

export function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Least-squares slope of y over x (null with fewer than 3 points). */
export function slope(points) {
  const p = points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (p.length < 3) return null;
  const n = p.length;
  const mx = p.reduce((s, [x]) => s + x, 0) / n;
  const my = p.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0, den = 0;
  for (const [x, y] of p) { num += (x - mx) * (y - my); den += (x - mx) ** 2; }
  return den ? num / den : null;
}

export const fmt = {
  ms: (x) => (x == null ? 'n/a' : `${x.toFixed(2)} ms`),
  pct: (x) => (x == null ? 'n/a' : `${(100 * x).toFixed(x >= 0.99995 && x < 1 ? 3 : 2)}%`),
  int: (x) => (x == null ? 'n/a' : String(Math.round(x))),
  fps: (x) => (x == null ? 'n/a' : `${Math.round(x)}/s`),
  mb: (x) => (x == null ? 'n/a' : `${(x / 1048576).toFixed(1)} MB`),
  s: (x) => (x == null ? 'n/a' : `${x.toFixed(1)} s`),
  num: (x) => (x == null ? 'n/a' : String(Number(x.toFixed(3)))),
  bytes: (x) => (x == null ? 'n/a' : x >= 1048576 ? `${(x / 1048576).toFixed(2)} MiB` : `${Math.round(x / 1024)} KiB`),
  ratio: (x) => (x == null ? '—' : `${x.toFixed(2)}×`),
  mbit: (x) => (x == null ? 'n/a' : `${x.toFixed(2)} Mbit/s`),
  cores: (x) => (x == null ? 'n/a' : `${x.toFixed(2)} cores`),
};

export function markdownTable(rows) {
  const head = ['scenario', 'store', 'figure', 'service (median)', 'bare (median)', 'ratio', 'target', 'result'];
  const cells = rows.map((r) => [r.scenario, r.store, r.figure, r.serviceText, r.bareText, r.ratioText, r.target, r.result]);
  const esc = (s) => String(s ?? '').replace(/\|/g, '\\|');
  const lines = [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i >= 3 && i <= 5 ? '---:' : '---')).join('|')}|`,
    ...cells.map((c) => `| ${c.map(esc).join(' | ')} |`),
  ];
  return lines.join('\n');
}
