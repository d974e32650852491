// Log lines for a person at a terminal: pino writes one JSON object a line; on a terminal each is
// printed as `12:04:05.123 WARN  message  key=value ...` instead (JSON stays the format for files,
// pipes and log collectors).
import { Writable } from 'node:stream';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields every line has, or that the line shows in its own way. */
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'v']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}

/** One pino JSON line as a readable line (the input as it is when it is not JSON). */
export function formatLine(line: string, color = false): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = Number(o.level);
  const time = new Date(typeof o.time === 'number' ? o.time : Date.now()).toISOString().slice(11, 23);
  const tag = LEVELS[level] ?? String(o.level);
  const head = color ? `\x1b[${COLORS[level] ?? '0'}m${tag}\x1b[0m` : tag;
  const req = o.req as { method?: string; url?: string } | undefined;
  const res = o.res as { statusCode?: number } | undefined;
  const parts = [time, head, String(o.msg ?? '')];
  if (req?.method) parts.push(`${req.method} ${req.url ?? ''}`);
  if (res?.statusCode) parts.push(String(res.statusCode));
  let stack = '';
  for (const [k, v] of Object.entries(o)) {
    if (SKIP.has(k) || k === 'req' || k === 'res') continue;
    if (k === 'err' && v && typeof v === 'object') {
      const e = v as { message?: string; stack?: string };
      parts.push(`err=${value(e.message ?? '')}`);
      if (e.stack && level >= 50) stack = `\n    ${e.stack.split('\n').slice(1).map((l) => l.trim()).join('\n    ')}`;
      continue;
    }
    if (k === 'responseTime' && typeof v === 'number') {
      parts.push(`${v.toFixed(1)} ms`);
      continue;
    }
    parts.push(`${k}=${value(v)}`);
  }
  return parts.filter(Boolean).join('  ') + stack;
}

/** A line longer than this is printed as it is rather than held for its end. */
const MAX_PARTIAL = 1024 * 1024;

/** A stream for pino that writes readable lines to `out`. */
export function readableLogStream(out: NodeJS.WritableStream & { isTTY?: boolean }): Writable {
  let rest = '';
  const color = out.isTTY === true && !process.env.NO_COLOR;
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      if (rest.length > MAX_PARTIAL) {
        lines.push(rest);
        rest = '';
      }
      for (const l of lines) if (l) out.write(`${formatLine(l, color)}\n`);
      done();
    },
  });
}
