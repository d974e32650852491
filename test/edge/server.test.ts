// The server's own limits: header size (431), how long headers (slowloris) and a whole request may
// take to arrive (408, then closed); neither cuts an open WebSocket or an idle keep-alive connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { call, rawConnection } from '../helpers/http.js';
import { connect, sleep, uniqueLabel } from '../helpers/frames.js';

let svc: TestService;
beforeAll(async () => {
  svc = await startService({ env: { MAX_HEADER_BYTES: '4096', HEADERS_TIMEOUT_MS: '600', REQUEST_TIMEOUT_MS: '1200' } });
});
afterAll(async () => {
  await svc?.stop();
});

/** Writes `text` one byte every `everyMs` until the connection closes or `text` is sent. */
async function trickle(c: Awaited<ReturnType<typeof rawConnection>>, text: string, everyMs: number): Promise<void> {
  for (const ch of text) {
    if (c.isClosed()) return;
    c.socket.write(ch);
    await sleep(everyMs);
  }
}

describe('request limits of the server', () => {
  it('answers 431 to headers over MAX_HEADER_BYTES and serves the next client', async () => {
    const c = await rawConnection(svc.url);
    await c.connected;
    c.socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(6000)}\r\n\r\n`);
    await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 431 /);
    const ok = await call(svc.url, 'GET', '/healthz', { headers: { 'x-fits': 'a'.repeat(3000) } });
    expect(ok.status).toBe(200);
  });

  it('closes a connection whose headers trickle in past HEADERS_TIMEOUT_MS (slowloris) with 408', async () => {
    const c = await rawConnection(svc.url);
    await c.connected;
    void trickle(c, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(100)}\r\n\r\n`, 50);
    const ms = await c.closed;
    expect(ms).toBeGreaterThanOrEqual(500);
    expect(ms).toBeLessThan(4000);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a request whose body takes longer than REQUEST_TIMEOUT_MS', async () => {
    const c = await rawConnection(svc.url);
    await c.connected;
    c.socket.write(`POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{`);
    void trickle(c, ' '.repeat(150), 50);
    const ms = await c.closed;
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(ms).toBeLessThan(5000);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('leaves open WebSockets and idle keep-alive connections alone', async () => {
    const label = uniqueLabel();
    const token = await svc.token('watcher-timeouts', 'user', [label]);
    const ws = await connect(svc.url, `/ws/stream/${label}/cam`, token);
    const idle = await rawConnection(svc.url);
    await idle.connected;
    idle.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(2500); // past both timeouts
    ws.send('{"action":"ping"}');
    await ws.until(() => ws.texts.length === 1);
    expect(ws.closed).toBeNull();
    expect(idle.isClosed()).toBe(false);
    idle.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((resolve) => {
      const check = () => ((idle.received().match(/200 OK/g) ?? []).length === 2 ? resolve() : setTimeout(check, 20));
      check();
    });
    ws.close();
    idle.socket.destroy();
  });
});
