// What one client may hold at once: TCP connections per address (closed at accept past the limit),
// WebSockets per user (1013 past it) and HTTP requests in flight per user (429 past it). Clients
// from 127.0.0.2 stand for another machine: Linux routes all of 127/8 to the loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { call, eventually, rawConnection, type RawConnection } from '../helpers/http.js';
import { connect, defaultMeta, jpeg, multipartBody, postFrame, sleep, uniqueLabel } from '../helpers/frames.js';

// One service for the per-user limits, one for the per-address limit (the test's own 127.0.0.1
// connections count against it too).
let svc: TestService;
let tight: TestService;
beforeAll(async () => {
  [svc, tight] = await Promise.all([
    startService({ env: { MAX_SOCKETS_PER_USER: '2', MAX_REQUESTS_PER_USER: '1' } }),
    startService({ env: { MAX_CONNECTIONS_PER_ADDRESS: '3' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([svc?.stop(), tight?.stop()]);
});

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

describe('connections per client address', () => {
  it('closes one past the limit at once, serves other addresses meanwhile, and frees the slot on close', async () => {
    const held: RawConnection[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const c = await rawConnection(tight.url, { localAddress: '127.0.0.2' });
        await c.connected;
        held.push(c);
      }
      await eventually(() => tight.limits.connections.total >= 3, 2000, 'three connections counted');
      const extra = await rawConnection(tight.url, { localAddress: '127.0.0.2' });
      expect(await extra.closed).toBeLessThan(2000);
      expect(extra.received()).toBe('');
      expect(tight.limits.refusedConnections).toBeGreaterThanOrEqual(1);

      // Another address is not affected.
      expect((await call(tight.url, 'GET', '/healthz')).status).toBe(200);
      // The held ones are served.
      held[0]!.socket.write(get('/healthz'));
      await eventually(() => held[0]!.received().includes('200 OK'), 2000, 'a held connection served');

      held.pop()!.socket.destroy();
      await eventually(async () => {
        const again = await rawConnection(tight.url, { localAddress: '127.0.0.2' });
        await again.connected.catch(() => {});
        again.socket.write(get('/healthz'));
        const ok = await Promise.race([again.closed.then(() => false), eventually(() => again.received().includes('200 OK'), 500).then(() => true, () => false)]);
        again.socket.destroy();
        return ok;
      }, 3000, 'a slot after one closed');
    } finally {
      for (const c of held) c.socket.destroy();
    }
    await eventually(() => tight.limits.connections.keys <= 1, 2000, 'the address forgotten');
  });
});

describe('sockets per user', () => {
  it('closes a user’s socket past the limit with 1013; other users are not affected; a closed one frees its slot', async () => {
    const label = uniqueLabel();
    const alice = await svc.token('alice-socks', 'user', [label]);
    const bob = await svc.token('bob-socks', 'user', [label]);
    const a1 = await connect(svc.url, `/ws/stream/${label}/cam`, alice);
    const a2 = await connect(svc.url, `/ws/stream/${label}/cam`, alice, 'header');
    const a3 = await connect(svc.url, `/ws/stream/${label}/cam`, alice);
    expect(await a3.waitClose()).toEqual({ code: 1013, reason: 'Too many connections for this user' });
    const b1 = await connect(svc.url, `/ws/stream/${label}/cam`, bob);
    b1.send('{"action":"ping"}');
    await b1.until(() => b1.texts.length === 1);
    expect(a1.closed).toBeNull();
    expect(a2.closed).toBeNull();

    a1.close();
    await eventually(async () => {
      const a4 = await connect(svc.url, `/ws/stream/${label}/cam`, alice);
      a4.send('{"action":"ping"}');
      await a4.until(() => a4.texts.length === 1 || a4.closed !== null);
      const open = a4.closed === null;
      a4.close();
      return open;
    }, 3000, 'a slot after a socket closed');
    a2.close();
    b1.close();
    await eventually(() => svc.limits.sockets.total === 0, 2000, 'no socket counted');
  });
});

describe('HTTP requests in flight per user', () => {
  it('answers 429 to a user whose requests are all in flight; others are served; the slot returns when the reply is sent', async () => {
    const label = uniqueLabel();
    const cam = await svc.token('cam-inflight', 'model_manager', [label]);
    const other = await svc.token('other-inflight', 'model_manager', [label]);

    // An upload whose body is still arriving holds the user's one request slot.
    const { body, contentType } = multipartBody({ label, key: 'cam', ...defaultMeta }, jpeg(1, 2048));
    const slow = await rawConnection(svc.url);
    await slow.connected;
    slow.socket.write(`POST /frames HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${cam}\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`);
    slow.socket.write(body.subarray(0, 100));
    await eventually(() => svc.limits.requests.total === 1, 2000, 'the upload counted');

    const refused = await call(svc.url, 'GET', '/labels', { token: cam });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'RATE_LIMITED' });
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await call(svc.url, 'GET', '/labels', { token: other })).status).toBe(200);

    slow.socket.write(body.subarray(100));
    await eventually(() => slow.received().includes('200 OK'), 3000, 'the slow upload answered');
    slow.socket.destroy();
    expect((await call(svc.url, 'GET', '/labels', { token: cam })).status).toBe(200);
    expect((await postFrame(svc.url, cam, { label, key: 'cam', ...defaultMeta }, jpeg(2))).status).toBe(200);
    await sleep(50);
    expect(svc.limits.requests.total).toBe(0);
  });
});
