// Soak: three minutes of moderate load on the real process (framebench fanout: 30 viewers × 4
// cameras × 10 fps × 20 KB) with a churn of viewers joining and leaving every second (push and
// pull, closing cleanly, cut off, before their first frame, refused), the service's heap and RSS
// sampled every 5 s. At the end nothing is left behind: no viewer, channel, pull waiter, watched
// socket or connection, no more timers than before. Prints the slopes (MB/min) and framebench's
// figures. SOAK_SECONDS shortens it (default 180).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox } from '../helpers/service.js';
import { built, startProcess, type ServiceProcess } from '../helpers/process.js';
import { connect, sleep, uniqueLabel, type Client } from '../helpers/frames.js';
import { metricsOf, report } from '../helpers/traffic.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
const SAMPLE_MS = 5000;
const ADMIN_PASSWORD = 'pw-admin-12345678';
const BENCH_DIR = path.resolve(process.env.FRAMEBENCH_DIR ?? '../shared/bench');

let proc: ServiceProcess | undefined;
const sandbox = new Sandbox();
afterAll(async () => {
  await proc?.stop(3000);
  await sandbox.cleanup();
});

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return num / den;
}

/** Counts that must come back to where they were once the load is gone. */
function held(m: Map<string, number>) {
  return {
    viewers: m.get('viewers') ?? NaN,
    channels: m.get('hub_channels') ?? NaN,
    pullWaiters: m.get('hub_pull_waiters') ?? NaN,
    watchedSockets: m.get('watched_sockets') ?? NaN,
    userSockets: m.get('user_sockets') ?? NaN,
    requests: m.get('user_requests_in_flight') ?? NaN,
    connections: m.get('client_connections') ?? NaN,
    timers: m.get('active_resources{type="Timeout"}') ?? 0,
    tcp: m.get('active_resources{type="TCPSocketWrap"}') ?? 0,
  };
}

/** One churned viewer: what it does and when it leaves. */
async function churnOne(url: string, token: string, label: string, i: number): Promise<void> {
  const kind = i % 6;
  let c: Client;
  if (kind === 4) c = await connect(url, `/ws/labels/${uniqueLabel('empty')}`, token); // no cameras: told so and closed
  else if (kind === 5) c = await connect(url, `/ws/labels/${label}`, 'not-a-token'); // refused (1008)
  else if (kind % 2 === 0) c = await connect(url, `/ws/labels/${label}`, token);
  else {
    c = await connect(url, `/ws/stream/${label}/cam-${i % 4}`, token);
    c.send('{"action":"pull"}');
  }
  if (kind >= 4) {
    await c.waitClose(5000);
    return;
  }
  if (i % 8 !== 3) await c.until(() => c.frames.length > 0 || c.closed !== null, 5000, 'a churned viewer’s first frame');
  if (kind === 1) c.send('{"action":"pull"}'); // left waiting for the next frame when it goes
  await sleep(200 + (i % 5) * 300);
  if (i % 3 === 0) c.close(); // cut off (no close frame)
  else {
    c.ws.close(1000);
    await c.waitClose(5000);
  }
}

describe.skipIf(!built() || !fs.existsSync(path.join(BENCH_DIR, 'framebench.mjs')))('soak', () => {
  it(`${SECONDS} s of fan-out with viewer churn: flat memory, nothing left behind`, { timeout: (SECONDS + 240) * 1000 }, async () => {
    const { prepareTools } = (await import(path.resolve('bench/lib/tools.mjs') as string)) as { prepareTools(dir: string, log: (m: string) => void): string };
    const tools = prepareTools(BENCH_DIR, (m) => console.log(m));
    proc = await startProcess(sandbox.env({ ADMIN_PASSWORD, LOG_LEVEL: 'info' }));
    const url = proc.url;
    const { access_token: token } = await proc.login('admin', ADMIN_PASSWORD);
    const label = uniqueLabel('soak');
    await sleep(1000);
    const baseline = held(await metricsOf(url));

    const jsonFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fs-soak-')), 'fanout.json');
    const bench = spawn(process.execPath, [path.join(tools, 'framebench.mjs'), 'fanout', '--url', url, '--token', token, '--label', label,
      '--seconds', String(SECONDS), '--viewers', '30', '--streams', '4', '--fps', '10', '--size', '20000', '--json', jsonFile],
    { cwd: tools, stdio: ['ignore', 'pipe', 'pipe'] });
    let benchOut = '';
    bench.stdout.on('data', (d) => (benchOut += d));
    bench.stderr.on('data', (d) => (benchOut += d));
    const benchDone = new Promise<number | null>((resolve) => bench.once('exit', (code) => resolve(code)));

    // Churn: a viewer joins every second and leaves after a while.
    let churning = true;
    let churned = 0;
    const churnErrors: string[] = [];
    const inFlight = new Set<Promise<void>>();
    const churn = (async () => {
      await sleep(2000); // framebench primes the cameras first
      for (let i = 0; churning; i++) {
        const p = churnOne(url, token, label, i).then(() => void churned++, (err: Error) => void churnErrors.push(err.message));
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
        await sleep(1000);
      }
      await Promise.all(inFlight);
    })();

    const samples: Array<{ t: number; rssMb: number; heapMb: number; viewers: number }> = [];
    const t0 = Date.now();
    let exitCode: number | null | undefined;
    void benchDone.then((c) => (exitCode = c));
    while (exitCode === undefined) {
      const m = await metricsOf(url);
      samples.push({
        t: (Date.now() - t0) / 1000,
        rssMb: (m.get('process_resident_memory_bytes') ?? NaN) / 2 ** 20,
        heapMb: (m.get('nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20,
        viewers: m.get('viewers') ?? NaN,
      });
      await Promise.race([sleep(SAMPLE_MS), benchDone]);
    }
    churning = false;
    await churn;
    expect(exitCode, benchOut.slice(-2000)).toBe(0);
    const fb = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as {
      frames_posted: number; delivery_ratio: number; duplicates: number; post_errors: number; latency_ms: { p50: number; p99: number };
    };

    // Nothing left behind once the load is gone.
    await sleep(3000);
    const end = held(await metricsOf(url));
    expect(end.viewers).toBe(0);
    expect(end.channels).toBe(0);
    expect(end.pullWaiters).toBe(0);
    expect(end.watchedSockets).toBe(0);
    expect(end.userSockets).toBe(0);
    expect(end.requests).toBe(0);
    expect(end.connections).toBeLessThanOrEqual(baseline.connections + 1); // the scrape's own keep-alive
    expect(end.timers).toBeLessThanOrEqual(baseline.timers);
    expect(end.tcp).toBeLessThanOrEqual(baseline.tcp + 1);

    // Flat memory after the first 30 s (start-up and the first churn warm the caches).
    const steady = samples.filter((s) => s.t >= Math.min(30, SECONDS / 4));
    const xs = steady.map((s) => s.t / 60);
    const heapSlope = slope(xs, steady.map((s) => s.heapMb));
    const rssSlope = slope(xs, steady.map((s) => s.rssMb));
    // The heap between collections holds garbage too: the lowest reading of each 30 s is what is
    // retained, and its slope is the trend a leak would show.
    const floors: Array<{ t: number; heapMb: number }> = [];
    for (const s of steady) {
      const w = Math.floor(s.t / 30);
      const f = floors.find((x) => Math.floor(x.t / 30) === w);
      if (!f) floors.push({ t: s.t, heapMb: s.heapMb });
      else if (s.heapMb < f.heapMb) Object.assign(f, { heapMb: s.heapMb });
    }
    const floorSlope = floors.length >= 3 ? slope(floors.map((f) => Math.floor(f.t / 30) * 0.5), floors.map((f) => f.heapMb)) : NaN;
    expect(steady.length).toBeGreaterThanOrEqual(5);
    expect(fb.duplicates).toBe(0);
    expect(fb.post_errors).toBe(0);
    expect(churnErrors, churnErrors.slice(0, 3).join('; ')).toEqual([]);
    expect(heapSlope).toBeLessThan(5); // MB per minute: generous; a leak of a frame per churned viewer would pass 20
    expect(rssSlope).toBeLessThan(10);

    report(`soak ${SECONDS} s`, {
      samples: samples.length,
      heap_mb_first: steady[0]!.heapMb, heap_mb_last: steady.at(-1)!.heapMb, heap_slope_mb_per_min: heapSlope,
      heap_floor_slope_mb_per_min: floorSlope, heap_floors_mb: floors.map((f) => f.heapMb.toFixed(1)).join('/'),
      rss_mb_first: steady[0]!.rssMb, rss_mb_last: steady.at(-1)!.rssMb, rss_max_mb: Math.max(...samples.map((s) => s.rssMb)), rss_slope_mb_per_min: rssSlope,
      churned_viewers: churned, framebench_posted: fb.frames_posted, delivered_pct: fb.delivery_ratio * 100, duplicates: fb.duplicates,
      p50_ms: fb.latency_ms.p50, p99_ms: fb.latency_ms.p99,
    });
    report(`soak ${SECONDS} s, held at the end (baseline)`, Object.fromEntries(Object.entries(end).map(([k, v]) => [k, `${v} (${baseline[k as keyof typeof baseline]})`])));
  });
});
