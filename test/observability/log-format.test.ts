// Readable log lines for a terminal (LOG_FORMAT=pretty, or auto on a TTY).
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatLine, readableLogStream } from '../../src/observability/log-format.js';

describe('readable log lines', () => {
  it('shows time, level, message, request and fields; the stack of an error', () => {
    const line = formatLine(JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 2, 3, 4, 5, 6), pid: 1, hostname: 'h', msg: 'upload refused', user: 'cam-1', label: 'north yard', code: 'VALIDATION' }));
    expect(line).toBe('03:04:05.006  WARN   upload refused  user=cam-1  label="north yard"  code=VALIDATION');
    const err = formatLine(JSON.stringify({ level: 50, time: 0, msg: 'request failed', req: { method: 'POST', url: '/frames' }, err: { message: 'boom', stack: 'Error: boom\n    at f (x.js:1:1)' } }));
    expect(err).toBe('00:00:00.000  ERROR  request failed  POST /frames  err=boom\n    at f (x.js:1:1)');
    expect(formatLine('not json')).toBe('not json');
  });

  it('turns a stream of JSON lines, split anywhere, into readable lines', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += String(d)));
    const s = readableLogStream(out);
    const json = JSON.stringify({ level: 30, time: 0, msg: 'hello', n: 1 });
    s.write(json.slice(0, 10));
    s.write(`${json.slice(10)}\n${json}\n`);
    await new Promise((r) => setImmediate(r));
    expect(text).toBe('00:00:00.000  INFO   hello  n=1\n00:00:00.000  INFO   hello  n=1\n');
  });
});
