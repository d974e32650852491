// Hostile clients cost bounded memory and no event loop, and other clients are served meanwhile:
// one that opens 500 viewer sockets and never reads (TCP windows fill, the server holds what it
// must not send: latest wins, then 1013 after VIEWER_STALL_MS), and a slowloris that opens 500
// connections and sends its headers a byte every 500 ms (408 after HEADERS_TIMEOUT_MS). Each with
// the default limits (MAX_CONNECTIONS_PER_ADDRESS refuses past 256 from one address) and without
// them (all 500 held). The attacker connects from 127.0.0.2, the normal clients from 127.0.0.1; the
// service is a real process, so that its memory and event loop are its own.
import net from 'node:net';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { Sandbox } from '../helpers/service.js';
import { built, startProcess, type ServiceProcess } from '../helpers/process.js';
import { call } from '../helpers/http.js';
import { connect, sleep, uniqueLabel } from '../helpers/frames.js';
import { httpProducer, inOrderOnce, memoryOf, metricsOf, missedFrames, percentile, probe, report } from '../helpers/traffic.js';

const ATTACKER = '127.0.0.2';
const COUNT = 500;
const ADMIN_PASSWORD = 'pw-admin-12345678';

let proc: ServiceProcess | undefined;
let sandbox: Sandbox | undefined;
afterEach(async () => {
  await proc?.stop(3000);
  await sandbox?.cleanup();
  proc = undefined;
  sandbox = undefined;
});

const SETTINGS = {
  'default limits': {},
  'no per-address or per-user limit': { MAX_CONNECTIONS_PER_ADDRESS: '0', MAX_SOCKETS_PER_USER: '0' },
} as const;

async function serve(env: Record<string, string>): Promise<{ url: string; token: string }> {
  sandbox = new Sandbox();
  proc = await startProcess(sandbox.env({ ADMIN_PASSWORD, ...env }));
  const { access_token } = await proc.login('admin', ADMIN_PASSWORD);
  return { url: proc.url, token: access_token };
}

/** Opens `n` sockets from the attacker's address, `batch` at a time; resolves with those that opened. */
async function openMany<T>(n: number, open: () => Promise<T | null>, batch = 50): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += batch) {
    const got = await Promise.all(Array.from({ length: Math.min(batch, n - i) }, () => open().catch(() => null)));
    for (const g of got) if (g !== null) out.push(g);
  }
  return out;
}

/**
 * Scrapes /metrics every 250 ms (not more: scraping costs the service too) until `done`, handing
 * each memory reading to `seen`; resolves with the ms it took.
 */
async function watchMemory(url: string, done: (m: Map<string, number>) => boolean, seen: (mem: { rssMb: number; heapMb: number }) => void, ms: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const m = await metricsOf(url);
    seen({ rssMb: (m.get('process_resident_memory_bytes') ?? NaN) / 2 ** 20, heapMb: (m.get('nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20 });
    if (done(m)) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`not done within ${ms} ms`);
    await sleep(250);
  }
}

describe.skipIf(!built())('hostile clients', () => {
  it.each(Object.entries(SETTINGS))('500 viewer sockets that never read (%s)', async (name, env) => {
    const { url, token } = await serve(env);
    const label = uniqueLabel();
    // 2 cameras × 10 fps × 20 KB: a deaf socket's TCP windows are full within a second.
    const producers = [0, 1].map((cam) => httpProducer(url, token, label, `cam-${cam}`, cam, 100, 20_000));
    await sleep(500);
    const normal = await connect(url, `/ws/labels/${label}`, token);
    const before = await memoryOf(url);
    const health = probe(url, '/healthz', 50);

    const wsUrl = `${url.replace(/^http/, 'ws')}/ws/labels/${label}?token=${token}`;
    const deaf = await openMany(COUNT, () => new Promise<WebSocket | null>((resolve) => {
      const ws = new WebSocket(wsUrl, { localAddress: ATTACKER, perMessageDeflate: false });
      ws.once('open', () => { ws.pause(); resolve(ws); }); // never reads again
      ws.once('error', () => resolve(null));
      ws.once('unexpected-response', () => resolve(null));
    }));
    const accepted = deaf.length;
    // Every deaf socket is closed as stalled; the normal viewer is not.
    let peak = before;
    const closedMs = await watchMemory(url, (m) => m.get('viewers') === 1, (mem) => (peak = mem.rssMb > peak.rssMb ? mem : peak), 40_000);
    await Promise.all(producers.map((p) => p.stop()));
    await health.stop();
    const after = await memoryOf(url);
    const m = await metricsOf(url);
    for (const ws of deaf) ws.terminate();

    if (name === 'default limits') {
      expect(accepted).toBeLessThanOrEqual(256);
      expect(m.get('client_connections_refused')).toBeGreaterThanOrEqual(COUNT - 256);
    } else {
      expect(accepted).toBe(COUNT);
    }
    expect(normal.closed).toBeNull();
    expect(inOrderOnce(normal)).toBe(true);
    // The normal viewer got every frame from its first on: only a slow reader ever skips.
    await normal.until(() => missedFrames(normal, producers) === 0, 3000, 'every frame for the normal viewer');
    const posted = producers.reduce((n, p) => n + p.attempts.filter((a) => a.status === 200).length, 0);
    expect(health.seen.every((s) => s.status === 200)).toBe(true);
    const lat = health.seen.map((s) => s.ms);
    // Generous (the machine is shared): others are served, the event loop is not stuck.
    expect(percentile(lat, 99)).toBeLessThan(2000);
    expect(peak.rssMb - before.rssMb).toBeLessThan(300);
    normal.close();
    report(`500 deaf viewer sockets, ${name}`, {
      accepted, refused: COUNT - accepted, closed_1013: m.get('viewers_closed_too_slow') ?? NaN, all_closed_after_ms: closedMs,
      healthz_p50_ms: percentile(lat, 50), healthz_p99_ms: percentile(lat, 99), healthz_max_ms: Math.max(...lat),
      rss_before_mb: before.rssMb, rss_peak_mb: peak.rssMb, rss_after_mb: after.rssMb, heap_after_mb: after.heapMb,
      normal_viewer_frames: normal.frames.length, frames_posted: posted,
    });
  });

  it.each(Object.entries(SETTINGS))('500 slowloris connections, a header byte every 500 ms (%s)', async (name, env) => {
    const { url, token } = await serve(env);
    const port = Number(new URL(url).port);
    const before = await memoryOf(url);
    const health = probe(url, '/healthz', 50);
    const request = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(1000)}`;
    type Slow = { socket: net.Socket; sent: number; closedAt: number | null; got: string };
    const t0 = Date.now();
    const slow = await openMany(COUNT, () => new Promise<Slow | null>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress: ATTACKER });
      const s: Slow = { socket, sent: 0, closedAt: null, got: '' };
      socket.on('data', (d) => (s.got += d.toString('latin1')));
      socket.on('error', () => {});
      socket.once('close', () => (s.closedAt = Date.now()));
      socket.once('connect', () => resolve(s));
      socket.once('close', () => resolve(null));
    }));
    const trickle = setInterval(() => {
      for (const s of slow) if (s.closedAt === null && s.sent < request.length) s.socket.write(request[s.sent++]!);
    }, 500);
    await sleep(300);
    const held = slow.filter((s) => s.closedAt === null);
    // Another client is served meanwhile, logging in and all.
    expect((await call(url, 'GET', '/labels', { token })).status).toBe(200);
    let peak = before;
    const closedMs = await watchMemory(url, () => held.every((s) => s.closedAt !== null), (mem) => (peak = mem.rssMb > peak.rssMb ? mem : peak), 30_000);
    clearInterval(trickle);
    await health.stop();
    const after = await memoryOf(url);
    for (const s of slow) s.socket.destroy();

    if (name === 'default limits') expect(held.length).toBeLessThanOrEqual(256);
    else expect(held.length).toBe(COUNT);
    // Closed by the headers timeout, told 408, none served.
    const lastClose = Math.max(...held.map((s) => s.closedAt! - t0));
    expect(lastClose).toBeLessThan(10_000 + 5000);
    expect(held.filter((s) => /^HTTP\/1\.1 408 /.test(s.got)).length).toBeGreaterThan(held.length * 0.9);
    expect(held.some((s) => /^HTTP\/1\.1 200 /.test(s.got))).toBe(false);
    expect(health.seen.every((s) => s.status === 200)).toBe(true);
    const lat = health.seen.map((s) => s.ms);
    expect(percentile(lat, 99)).toBeLessThan(2000);
    expect(peak.rssMb - before.rssMb).toBeLessThan(200);
    report(`500 slowloris connections, ${name}`, {
      held: held.length, refused: COUNT - held.length, all_closed_after_ms: closedMs, last_closed_after_open_ms: lastClose,
      healthz_p50_ms: percentile(lat, 50), healthz_p99_ms: percentile(lat, 99), healthz_max_ms: Math.max(...lat),
      rss_before_mb: before.rssMb, rss_peak_mb: peak.rssMb, rss_after_mb: after.rssMb,
    });
  });
});
