#!/usr/bin/env node
// npm run bench — the performance benchmark (not part of the test suite).
//
// For each frame store (memory, redis) it runs framebench's scenarios against the built service
// (`node dist/src/main.js`) and against ../shared/bench/bareserver.mjs (the bare limit: in memory,
// or with --redis), interleaved (service, bare, service, bare...), each run in a fresh server
// process, and judges every figure by the median of the per-run ratios. It adds what framebench
// does not measure: peak RSS (VmHWM) of both servers, a slow viewer (100 KB/s) among the first
// row's 100, and Redis commands in a fixed 10 s window with 100 vs 10 viewers, on a redis-server of
// its own. The wall rows (max_fps and preview viewers) use its own client, bench/lib/wallbench.mjs,
// with photograph-like frames (bench/lib/photos.mjs). Scaling out (services against services, same
// run): the fan-out row with its viewers split over two instances (WORKERS=2) against one instance,
// both on Redis; on a Redis Cluster of its own (3 masters, 3 replicas) against one Redis; and the
// Redis commands with 100 vs 10 viewers on the cluster. It prints every raw run, then ONE table, and
// writes table + raw runs to bench/results/latest.json.
//
//   npm run bench                       full run (3 runs of each pair, 10 s each; about 25 minutes)
//   npm run bench -- --quick            1 run of each, 4 s (about 6 minutes)
//   node bench/run.mjs --only fanout100,memory --runs 1 --seconds 5
// Run `node bench/run.mjs --help` for every option.
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import {
  cleanupAll, freePort, installExitHandlers, onCleanup, procMemory, sleep, startChild, stopChild, tail, waitHttp,
} from './lib/procs.mjs';
import { prepareTools } from './lib/tools.mjs';
import { openFastViewer, openSlowViewer } from './lib/viewers.mjs';
import { eventIngestRows, eventQueryRows, runEventIngest, runEventQueries } from './lib/events.mjs';
import { fmt, markdownTable, median, slope } from './lib/stats.mjs';
import { writePhotos } from './lib/photos.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const SERVICE_MAIN = path.join(REPO, 'dist', 'src', 'main.js');
/** The Node.js flags `npm start` runs the service with (package.json), so the bench measures the same. */
const SERVICE_NODE_FLAGS = (() => {
  const start = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).scripts?.start ?? '';
  const m = /\bnode((?:\s+--\S+)*)\s+dist\/src\/main\.js/.exec(start);
  if (!m) throw new Error(`package.json's start script does not run "node [flags] dist/src/main.js": ${start}`);
  return m[1].trim().split(/\s+/).filter(Boolean);
})();
const LABEL = 'bench';
const SEQ_FLOOR = 1_000_000; // framebench's measured frames start here; warm-up frames below
const SLOW_RATE = 100_000; // bytes/s read by the slow viewer
const RSS_GROWTH_LIMIT = 20 * 1048576; // "RSS does not grow": tolerance for GC noise
const AGE_SLOPE_LIMIT = 0.25; // s of age per s: a growing backlog is ~1, a bounded one ~0
const COMMANDS_WINDOW_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Options

const HELP = `usage: node bench/run.mjs [options]        (npm run bench -- [options])
  --runs N            runs of each service/bare pair (default 3)
  --seconds N         framebench --seconds of each run (default 10)
  --slow-seconds N    length of the slow-viewer run (default 90; with --seconds: 3×N, 15..90; --quick: 15).
                      Latest-wins shows only once the kernel's socket buffers (~4 MB on loopback, ~40 s
                      at 100 KB/s) have drained: runs under 60 s do not judge it.
  --quick             1 run, 4 s (a quick check)
  --only A,B          scenarios and/or stores to run: fanout100 fanout1000 ingest pull wall1 wall20 wallmix
                      slow commands instances cluster clustercommands events eventsquery, memory redis
                      (e.g. --only fanout100,memory, --only wall1,wall20, --only events or --only
                      instances,cluster,clustercommands; the last three need redis)
  --bench-dir DIR     the measuring tools (default ../shared/bench from the repo root; env FRAMEBENCH_DIR)
  --out FILE          results JSON (default bench/results/latest.json)
  --keep-logs         keep the servers' logs (their folder is printed)
  --service bare      measure a second bare server in place of the service (checks the bench itself)
env BENCH_SERVICE_NODE_FLAGS: extra node flags for the service, space-separated (e.g. --cpu-prof;
Node refuses --cpu-prof in NODE_OPTIONS, so they go on the command line).
Exit status: 0 all targets met, 1 some target missed, 2 the bench could not run.`;

function parseOptions(argv) {
  const o = { runs: 3, seconds: 10, quick: false, only: [], keepLogs: false, serviceIsBare: false };
  let secondsGiven = false, slowGiven = null, runsGiven = false;
  const val = (i) => {
    if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
    return argv[i + 1];
  };
  const num = (i) => {
    const n = Number(val(i));
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${argv[i]} needs a positive number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--help': case '-h': console.log(HELP); process.exit(0); break;
      case '--runs': o.runs = Math.round(num(i)); runsGiven = true; i++; break;
      case '--seconds': o.seconds = num(i); secondsGiven = true; i++; break;
      case '--slow-seconds': slowGiven = num(i); i++; break;
      case '--quick': o.quick = true; break;
      case '--only': o.only.push(...val(i).split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)); i++; break;
      case '--bench-dir': o.benchDir = val(i); i++; break;
      case '--out': o.out = val(i); i++; break;
      case '--keep-logs': o.keepLogs = true; break;
      case '--service':
        if (val(i) !== 'bare') throw new Error('--service takes only "bare"');
        o.serviceIsBare = true; i++; break;
      default: throw new Error(`unknown option ${a} (see --help)`);
    }
  }
  if (o.quick) {
    if (!runsGiven) o.runs = 1;
    if (!secondsGiven) o.seconds = 4;
  }
  o.slowSeconds = slowGiven ?? (o.quick && !secondsGiven ? 15 : secondsGiven ? Math.min(90, Math.max(15, 3 * o.seconds)) : 90);
  o.benchDir = path.resolve(REPO, o.benchDir ?? process.env.FRAMEBENCH_DIR ?? '../shared/bench');
  o.out = path.resolve(REPO, o.out ?? 'bench/results/latest.json');
  const scenarioIds = ['fanout100', 'fanout1000', 'ingest', 'pull', 'wall1', 'wall20', 'wallmix', 'slow', 'commands', 'instances', 'cluster', 'clustercommands', 'events', 'eventsquery'];
  const storeIds = ['memory', 'redis'];
  for (const w of o.only) {
    if (!scenarioIds.includes(w) && !storeIds.includes(w)) {
      throw new Error(`--only: unknown "${w}" (scenarios: ${scenarioIds.join(' ')}; stores: ${storeIds.join(' ')})`);
    }
  }
  const onlyScen = o.only.filter((w) => scenarioIds.includes(w));
  const onlyStore = o.only.filter((w) => storeIds.includes(w));
  o.scenarios = onlyScen.length ? scenarioIds.filter((s) => onlyScen.includes(s)) : scenarioIds;
  o.stores = onlyStore.length ? storeIds.filter((s) => onlyStore.includes(s)) : storeIds;
  return o;
}

// ---------------------------------------------------------------------------------------------
// Scenarios and the figures read from them

const ok1 = (x) => x != null && x >= 1 - 1e-9;
const FANOUT_100 = ['fanout', '--viewers', '100', '--streams', '4', '--fps', '10', '--size', '100000'];
const WALL_QUERY = 'max_fps=2&rendition=preview';
const PHOTOS = 16; // distinct photo-like frames, one per camera of the wall

/** What the wall viewers of a wallbench run measured (figures of the wall rows). */
const wallFigures = [
  { figure: 'wall viewers: bytes received (worst viewer)', get: (j) => j.wall?.mbitPerSecMax, f: fmt.mbit, abs: (x) => x <= 4, target: '≤ 4 Mbit/s' },
  { figure: 'wall viewers: age of each camera\'s newest frame, p99 (worst viewer)', get: (j) => j.wall?.ageP99Max, f: fmt.ms, abs: (x) => x <= 1000, target: '≤ 1 s' },
  { figure: 'wall viewers: frame age p50', get: (j) => j.wall?.ageP50Median, f: fmt.ms },
  { figure: 'wall viewers: cameras shown (worst viewer)', get: (j) => j.wall?.shownMin, f: fmt.pct, abs: ok1, target: '100%' },
  { figure: 'wall viewers: repeated or out-of-order frames', get: (j) => j.wall?.outOfOrder, f: fmt.int, abs: (x) => x === 0, target: '0' },
];

const SCENARIOS = [
  {
    id: 'fanout100', name: 'fanout 100 viewers (4 cams, 10 fps, 100 KB)', args: FANOUT_100, viewers: 100,
    figures: [
      { figure: 'runs completed', completed: true, target: 'all' },
      { figure: 'delivered', get: (j) => j.delivery_ratio, f: fmt.pct, abs: ok1, target: '100%', noRatio: true },
      { figure: 'duplicates', get: (j) => j.duplicates, f: fmt.int, abs: (x) => x === 0, target: '0', noRatio: true },
      { figure: 'p50 latency', get: (j) => j.latency_ms?.p50, f: fmt.ms, ratioMax: 1.3 },
      { figure: 'p99 latency', get: (j) => j.latency_ms?.p99, f: fmt.ms, ratioMax: 1.5 },
    ],
  },
  {
    id: 'fanout1000', name: 'fanout 1000 viewers (4 cams, 2 fps, 20 KB)',
    args: ['fanout', '--viewers', '1000', '--streams', '4', '--fps', '2', '--size', '20000'], viewers: 1000,
    figures: [
      { figure: 'every socket accepted (runs completed)', completed: true, target: 'all' },
      { figure: 'delivered', get: (j) => j.delivery_ratio, f: fmt.pct, abs: ok1, target: '100%', noRatio: true },
      { figure: 'duplicates', get: (j) => j.duplicates, f: fmt.int, abs: (x) => x === 0, target: '0', noRatio: true },
      { figure: 'p50 latency', get: (j) => j.latency_ms?.p50, f: fmt.ms },
      { figure: 'p99 latency', get: (j) => j.latency_ms?.p99, f: fmt.ms, ratioMax: 1.5 },
      { figure: 'peak RSS (VmHWM)', get: (_j, run) => run.memory?.hwm, f: fmt.mb, ratioMax: 2 },
    ],
  },
  {
    id: 'ingest', name: 'ingest 8 producers (100 KB)', args: ['ingest', '--concurrency', '8', '--size', '100000'],
    figures: [
      { figure: 'runs completed', completed: true, target: 'all' },
      { figure: 'frames/s', get: (j) => j.frames_per_s, f: fmt.fps, ratioMin: 0.7 },
      { figure: 'p99 latency', get: (j) => j.latency_ms?.p99, f: fmt.ms, ratioMax: 2 },
      { figure: 'p50 latency', get: (j) => j.latency_ms?.p50, f: fmt.ms },
      { figure: 'non-2xx replies', get: (j) => Object.entries(j.statuses ?? {}).reduce((s, [k, n]) => s + (k.startsWith('2') ? 0 : n), 0), f: fmt.int },
    ],
  },
  {
    id: 'pull', name: 'pull 20 viewers', args: ['pull', '--viewers', '20'],
    figures: [
      { figure: 'runs completed', completed: true, target: 'all' },
      { figure: 'duplicates', get: (j) => j.duplicates, f: fmt.int, abs: (x) => x === 0, target: '0', noRatio: true },
      { figure: 'frame p50', get: (j) => j.frame_latency_ms?.p50, f: fmt.ms, abs: (x) => x <= 5, target: '≤ 5 ms' },
      { figure: 'frame p99', get: (j) => j.frame_latency_ms?.p99, f: fmt.ms },
      { figure: 'frames received', get: (j) => j.frames_received, f: fmt.int },
    ],
  },
  {
    id: 'wall1', name: `wall: 1 viewer ?${WALL_QUERY}, 16 cams × 10 fps × 100 KB photos`, client: 'wall', sides: ['service'], stores: ['memory'],
    args: ['--streams', '16', '--fps', '10', '--wall-viewers', '1', '--wall-query', WALL_QUERY],
    figures: [
      { figure: 'runs completed', completed: true, target: 'all' },
      ...wallFigures,
      { figure: 'frames uploaded per second (of 160)', get: (j) => j.frames_posted / j.seconds, f: fmt.fps },
      { figure: 'previews made per second', get: (j) => j.server?.previewsMadePerSec, f: fmt.fps },
      { figure: 'server CPU (cores)', get: (j) => j.server?.cpuCores, f: fmt.cores },
    ],
  },
  {
    id: 'wall20', name: `wall: 20 viewers ?${WALL_QUERY}, 16 cams × 10 fps × 100 KB photos`, client: 'wall', sides: ['service'], stores: ['memory'],
    args: ['--streams', '16', '--fps', '10', '--wall-viewers', '20', '--wall-query', WALL_QUERY],
    figures: [
      { figure: 'runs completed', completed: true, target: 'all' },
      ...wallFigures,
      { figure: 'frames uploaded per second (of 160)', get: (j) => j.frames_posted / j.seconds, f: fmt.fps },
      { figure: 'previews made per second', get: (j) => j.server?.previewsMadePerSec, f: fmt.fps },
      { figure: 'server CPU (cores), against the 1-viewer row', get: (j) => j.server?.cpuCores, f: fmt.cores, vsScenario: 'wall1', ratioMax: 1.3 },
    ],
  },
  {
    id: 'wallmix', name: `fanout 100 viewers × 4 cams × 10 fps × 100 KB photos, with 20 viewers ?${WALL_QUERY} (service only)`,
    client: 'wall', stores: ['memory'], args: ['--streams', '4', '--fps', '10', '--full-viewers', '100'],
    serviceArgs: ['--wall-viewers', '20', '--wall-query', WALL_QUERY], viewers: 120,
    figures: [
      { figure: 'runs completed', completed: true, target: 'all' },
      { figure: 'full viewers: delivered', get: (j) => j.delivery_ratio, f: fmt.pct, abs: ok1, target: '100%', noRatio: true },
      { figure: 'full viewers: duplicates', get: (j) => j.duplicates, f: fmt.int, abs: (x) => x === 0, target: '0', noRatio: true },
      { figure: 'full viewers: p50 latency', get: (j) => j.latency_ms?.p50, f: fmt.ms, ratioMax: 1.3 },
      { figure: 'full viewers: p99 latency', get: (j) => j.latency_ms?.p99, f: fmt.ms, ratioMax: 1.5 },
      { figure: 'preview viewers: cameras shown (worst viewer)', get: (j) => j.wall?.shownMin, f: fmt.pct, noRatio: true },
      { figure: 'preview viewers: frame age p99 (worst viewer)', get: (j) => j.wall?.ageP99Max, f: fmt.ms, noRatio: true },
    ],
  },
];

/**
 * Scaling out: the fan-out row's figures, judged against another setup of the service in the same
 * run (side `one`/`single` takes the place of the bare server). Runs alternate between the two.
 */
const SCALE_PAIRS = [
  {
    id: 'instances', name: 'fanout 100 viewers split over two instances (WORKERS=2) vs one instance, one Redis',
    args: FANOUT_100, figures: SCENARIOS[0].figures,
    // Both at LOG_LEVEL=info: the bench waits for every worker's "Server listening" line.
    test: { side: 'two', label: 'two instances', store: 'redis', env: { WORKERS: '2', LOG_LEVEL: 'info' }, workers: 2 },
    base: { side: 'one', label: 'one instance', store: 'redis', env: { LOG_LEVEL: 'info' }, workers: 1 },
  },
  {
    id: 'cluster', name: 'fanout 100 viewers, Redis Cluster (3 masters + 3 replicas) vs one Redis',
    args: FANOUT_100, figures: SCENARIOS[0].figures,
    test: { side: 'cluster', label: 'Redis Cluster', store: 'cluster', env: {} },
    base: { side: 'single', label: 'one Redis', store: 'redis', env: {} },
  },
];

// ---------------------------------------------------------------------------------------------
// State of this run

let opts;
let tools; // the copy of the measuring tools
let work; // temporary folder of this run (logs, data dirs, JSON files)
const redises = {}; // side -> { url, client, child, port }
let redisCluster = null; // the Redis Cluster of the cluster rows (test/helpers/redis-cluster.ts, built)
const t0 = Date.now();
const loadAtStart = os.loadavg();
// How much unsent data the kernel keeps per socket decides how stale a slow viewer's frames get
// (see the README's deployment notes): record it with the results.
function sysctl(name) {
  try { return fs.readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim().replace(/\s+/g, ' '); } catch { return 'unknown'; }
}
const kernel = { tcp_notsent_lowat: sysctl('net.ipv4.tcp_notsent_lowat'), tcp_wmem: sysctl('net.ipv4.tcp_wmem') };
console.log(`kernel: net.ipv4.tcp_notsent_lowat=${kernel.tcp_notsent_lowat} net.ipv4.tcp_wmem=${kernel.tcp_wmem}`);
const raw = []; // every measured run
const slowRuns = [];
const commandRuns = [];
let eventRuns = [];
let eventQueryRuns = [];
const problems = []; // what the reader should know: failed runs, missed absolute targets, log errors

function stamp() {
  const s = Math.floor((Date.now() - t0) / 1000);
  return `[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}]`;
}
const say = (msg) => console.log(`${stamp()} ${msg}`);
const problem = (msg) => { problems.push(msg); console.log(`${stamp()}   ! ${msg}`); };
const randomText = (n) => crypto.randomBytes(n).toString('base64url').slice(0, n);

function baseEnv() {
  const env = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'SystemRoot']) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

// ---------------------------------------------------------------------------------------------
// Redis servers of our own (one for the service, one for the bare server)

async function startRedis(side) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(work, `redis-${side}-`));
  const child = startChild(`redis-server (${side})`, 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir,
  ], { stdout: path.join(work, `redis-${side}.log`) });
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, retryStrategy: (n) => (n > 50 ? null : 100) });
  client.on('error', () => {});
  const end = Date.now() + 15_000;
  for (;;) {
    if (child.done) throw new Error(`redis-server exited at start: ${tail(path.join(work, `redis-${side}.log`), 5)}`);
    try {
      if (client.status === 'wait' || client.status === 'end') await client.connect();
      if ((await client.ping()) === 'PONG') break;
    } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`redis-server on port ${port} did not answer`);
    await sleep(100);
  }
  const r = { side, port, url, client, child };
  onCleanup(async () => { client.disconnect(); await stopChild(child, 3000); });
  return r;
}

/** A Redis Cluster of our own, with a client per master (flushes, command counts). */
async function startCluster() {
  const { startRedisCluster } = await import(path.join(REPO, 'dist', 'test', 'helpers', 'redis-cluster.js'));
  const cluster = await startRedisCluster({ masters: 3, replicas: 1 });
  onCleanup(() => cluster.stop());
  const masters = (await cluster.masterPorts()).map((port) => {
    const c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 2 });
    c.on('error', () => {});
    onCleanup(() => c.disconnect());
    return c;
  });
  return { ...cluster, masters };
}

/** The Redis servers the service talks to, for flushing and counting: one Redis, or the cluster's masters. */
function redisServersOf(store) {
  if (store === 'cluster') return redisCluster.masters;
  return [redises.service.client];
}

// ---------------------------------------------------------------------------------------------
// Servers: the service (dist/src/main.js) and the bare server, each a fresh process

/**
 * side: service or bare (the pairs of SCENARIOS), or a side of a scale pair (always the service);
 * store: memory, redis (the side's own redis-server) or cluster; `extraEnv`: more settings, and
 * `workers`: how many "Server listening" lines to wait for.
 */
async function startServer(side, store, tag, { extraEnv = {}, workers = 1 } = {}) {
  const kind = side === 'bare' || (side === 'service' && opts.serviceIsBare) ? 'bare' : 'service';
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = path.join(work, `${tag}-${side}.log`);
  const redis = store === 'redis' ? redises[side] ?? redises.service : null;
  if (store === 'cluster') await Promise.all(redisServersOf('cluster').map((c) => c.flushall()));
  else if (redis) await redis.client.flushall();
  const srv = { side, kind, store, url, port, logFile, redisUrl: redis?.url ?? null };
  if (kind === 'service') {
    const password = randomText(20);
    const env = {
      ...baseEnv(),
      PORT: String(port), HOST: '127.0.0.1', JWT_SECRET: randomText(40),
      ADMIN_USERNAME: 'admin', ADMIN_PASSWORD: password,
      DATA_DIR: fs.mkdtempSync(path.join(work, 'data-')), LOG_LEVEL: 'warn',
      LOGIN_MAX_FAILURES: '1000', LABELS_RATE_MAX: '100000',
      // Every client of the bench comes from one address with one token (1000 viewers in a row).
      MAX_CONNECTIONS_PER_ADDRESS: '0', MAX_SOCKETS_PER_USER: '0',
    };
    if (redis) env.REDIS_URL = redis.url;
    if (store === 'cluster') env.REDIS_CLUSTER_NODES = redisCluster.nodes;
    Object.assign(env, extraEnv);
    const extraFlags = (process.env.BENCH_SERVICE_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
    srv.child = startChild('service', process.execPath, [...SERVICE_NODE_FLAGS, ...extraFlags, SERVICE_MAIN], { env, cwd: REPO, stdout: logFile, raiseFds: true });
    srv.getToken = async () => {
      const res = await fetch(`${url}/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password }), signal: AbortSignal.timeout(10_000),
      });
      const j = await res.json().catch(() => ({}));
      if (!j.access_token) throw new Error(`login to the service failed: HTTP ${res.status} ${JSON.stringify(j).slice(0, 200)}`);
      return j.access_token;
    };
    try {
      await waitHttp(`${url}/healthz`, { child: srv.child, what: 'the service', timeoutMs: 60_000 });
      if (workers > 1) await waitWorkers(srv, workers);
      // framebench gets a token, as it does for the bare server, not --login: logging in makes it
      // load fetch (undici), which grows its young heap; its GC then runs full collections under
      // 400 MB/s of frames and slows the measuring client itself (measured: +50% client CPU, +3 ms p50).
      srv.auth = ['--token', await srv.getToken()];
    } catch (err) {
      await stopChild(srv.child, 2000);
      throw new Error(`${err.message}\n--- service log ---\n${tail(logFile, 15)}`);
    }
  } else {
    const secret = randomText(40);
    const args = [path.join(tools, 'bareserver.mjs'), '--port', String(port), '--secret', secret];
    if (redis) args.push('--redis', redis.url);
    srv.child = startChild('bareserver', process.execPath, args, { env: baseEnv(), cwd: tools, stdout: logFile, raiseFds: true });
    const token = execFileSync(process.execPath, [path.join(tools, 'mint.mjs'), secret, 'admin'], { encoding: 'utf8' }).trim();
    srv.auth = ['--token', token];
    srv.getToken = async () => token;
    try {
      await waitHttp(`${url}/labels`, { child: srv.child, what: 'the bare server', ok: (r) => r.status === 401 || r.status === 200 });
    } catch (err) {
      await stopChild(srv.child, 2000);
      throw new Error(`${err.message}\n--- bareserver log ---\n${tail(logFile, 15)}`);
    }
  }
  srv.pid = srv.child.pid;
  return srv;
}

/** Waits until `n` worker processes of the service logged that they listen. */
async function waitWorkers(srv, n, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    let text = '';
    try { text = fs.readFileSync(srv.logFile, 'utf8'); } catch { /* not yet */ }
    const pids = new Set();
    for (const line of text.split('\n')) {
      if (!line.includes('Server listening')) continue;
      try { pids.add(JSON.parse(line).pid); } catch { /* not a log line */ }
    }
    if (pids.size >= n) return;
    if (srv.child.done) throw new Error('the service exited before its workers listened');
    if (Date.now() > end) throw new Error(`only ${pids.size} of ${n} workers listened within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/** Stops a server; returns how it ended and the warnings/errors it logged. */
async function stopServer(srv) {
  const diedEarly = srv.child.done;
  const exit = await stopChild(srv.child, 8000);
  const issues = [];
  try {
    for (const line of fs.readFileSync(srv.logFile, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      if (srv.kind === 'bare' && /^bareserver on /.test(line)) continue;
      let j = null;
      try { j = JSON.parse(line); } catch { /* plain text */ }
      if (j && typeof j.level === 'number') {
        if (j.level >= 40) issues.push(`${j.level >= 50 ? 'ERROR' : 'WARN'} ${j.msg ?? ''}${j.err?.message ? `: ${j.err.message}` : ''}`.slice(0, 300));
      } else {
        issues.push(line.slice(0, 300));
      }
    }
  } catch { /* no log */ }
  const upSeconds = srv.child.exitedAt ? (srv.child.exitedAt - srv.child.startedAt) / 1000 : null;
  return { diedEarly, exit, killed: !!exit?.killed, logIssues: issues, upSeconds };
}

// ---------------------------------------------------------------------------------------------
// framebench

let fbCount = 0;
/** Runs framebench (or, with `script`, another client taking the same options) against a server. */
function startFramebench(args, srv, seconds, script = path.join(tools, 'framebench.mjs')) {
  const jsonFile = path.join(work, `framebench-${++fbCount}.json`);
  const argv = [script, ...args, '--url', srv.url, ...srv.auth, '--label', LABEL,
    '--seconds', String(seconds), '--json', jsonFile];
  const child = startChild(path.basename(script, '.mjs'), process.execPath, argv, { env: baseEnv(), cwd: path.dirname(script), stdout: 'pipe', raiseFds: true });
  let out = '', err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const viewers = Number(args[args.indexOf('--viewers') + 1]) || Number(args[args.indexOf('--full-viewers') + 1]) || 0;
  const timeoutMs = (seconds + 60 + viewers * 0.05) * 1000;
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; stopChild(child, 2000); }, timeoutMs);
  const done = child.exited.then(({ code, signal }) => {
    clearTimeout(timer);
    let json = null;
    try { json = JSON.parse(fs.readFileSync(jsonFile, 'utf8')); } catch { /* no result */ }
    const lines = out.trim().split('\n').filter(Boolean);
    const summary = lines.length ? lines[lines.length - 1] : '';
    const ok = code === 0 && json !== null;
    return {
      ok, code, signal, timedOut, json, summary,
      stderr: err.trim().split('\n').filter(Boolean).slice(0, 10).join('\n'),
    };
  });
  return { child, done };
}

function describeFailure(fb, srvEnd) {
  const why = [];
  if (fb.timedOut) why.push('framebench timed out');
  else if (!fb.ok) why.push(`framebench exit ${fb.code ?? fb.signal}`);
  if (fb.stderr) why.push(fb.stderr.split('\n').slice(-3).join(' / ').slice(0, 400));
  if (srvEnd?.diedEarly) {
    why.push(`server exited by itself during the run (exit ${srvEnd.exit?.code ?? srvEnd.exit?.signal}, ` +
      `${fmt.s(srvEnd.upSeconds)} after it started${srvEnd.exit?.code === 0 ? '; code 0: it shut down as on a signal' : ''})`);
  }
  return why.join('; ');
}

// ---------------------------------------------------------------------------------------------
// The wall rows: bench/lib/wallbench.mjs with photograph-like frames

const WALLBENCH = path.join(REPO, 'bench', 'lib', 'wallbench.mjs');
let photosDir = null;

/** The photos, made once and kept in $TMPDIR for later runs (their recipe's version in the name). */
async function preparePhotos() {
  const dir = path.join(os.tmpdir(), 'framestream-bench-photos-v1');
  const files = Array.from({ length: PHOTOS }, (_, i) => path.join(dir, `cam-${i}.jpg`));
  if (!files.every((f) => fs.existsSync(f))) {
    say(`making ${PHOTOS} photo-like 1280×720 JPEGs of about 100 KB in ${dir} (once) ...`);
    const staging = fs.mkdtempSync(`${dir}-staging-`);
    await writePhotos(staging, PHOTOS, { width: 1280, height: 720, targetBytes: 100_000 });
    fs.rmSync(dir, { recursive: true, force: true });
    try { fs.renameSync(staging, dir); } catch { fs.rmSync(staging, { recursive: true, force: true }); }
  }
  const sizes = files.map((f) => fs.statSync(f).size);
  say(`photos: ${PHOTOS} frames of ${fmt.bytes(Math.min(...sizes))}..${fmt.bytes(Math.max(...sizes))} in ${dir}`);
  return dir;
}

function startWallbench(sc, srv) {
  const args = [...sc.args, ...(srv.kind === 'service' ? sc.serviceArgs ?? [] : []), '--server-pid', String(srv.pid), '--frames-dir', photosDir];
  return startFramebench(args, srv, opts.seconds, WALLBENCH);
}

// ---------------------------------------------------------------------------------------------
// The measured pairs

async function measuredRun(sc, store, side, run, serverOpts = {}) {
  const rec = { scenario: sc.id, store, side, run, ok: false };
  const label = `${store.padEnd(6)} ${sc.id.padEnd(10)} #${run} ${side.padEnd(7)}`;
  let srv;
  try {
    srv = await startServer(side, store, `${store}-${sc.id}-${run}`, serverOpts);
    rec.kind = srv.kind;
    const fb = await (sc.client === 'wall' ? startWallbench(sc, srv) : startFramebench(sc.args, srv, opts.seconds)).done;
    rec.memory = procMemory(srv.pid); // before the server stops: VmHWM is this scenario's peak
    const end = await stopServer(srv);
    srv = null;
    Object.assign(rec, { ok: fb.ok && !end.diedEarly, json: fb.json, summary: fb.summary, stderr: fb.stderr || undefined,
      serverExit: end.exit, logIssues: end.logIssues });
    const mem = sc.id === 'fanout1000' && rec.memory?.hwm ? ` | peak RSS ${fmt.mb(rec.memory.hwm)}` : '';
    say(`${label} ${fb.summary || '(no summary)'}${mem}`);
    if (!rec.ok) problem(`${store} ${sc.id} run ${run} ${side}: ${describeFailure(fb, end)}`);
    else if (fb.stderr) console.log(`${' '.repeat(9)}framebench stderr: ${fb.stderr.split('\n')[0].slice(0, 200)}`);
    if (end.killed) problem(`${store} ${sc.id} run ${run} ${side}: did not stop within 8 s of SIGTERM (killed)`);
    reportLogIssues(`${store} ${sc.id} run ${run} ${side}`, end.logIssues);
  } catch (err) {
    rec.error = err.message;
    say(`${label} FAILED`);
    problem(`${store} ${sc.id} run ${run} ${side}: ${err.message}`);
    if (srv) await stopServer(srv).catch(() => {});
  }
  return rec;
}

const logLines = new Map(); // a warning/error line a server logged -> where
function reportLogIssues(where, issues) {
  for (const line of new Set(issues ?? [])) {
    if (!logLines.has(line)) {
      logLines.set(line, []);
      console.log(`${stamp()}   ! ${where}: server logged ${JSON.stringify(line)}`);
    }
    logLines.get(line).push(where);
  }
}

// ---------------------------------------------------------------------------------------------
// The slow viewer: one socket reading 100 KB/s among the first row's 100 viewers

async function waitForLabel(srv, token, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    try {
      const res = await fetch(`${srv.url}/labels`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2000) });
      const j = await res.json().catch(() => ({}));
      if (Array.isArray(j.labels) && j.labels.includes(LABEL)) return;
      last = `HTTP ${res.status} ${JSON.stringify(j).slice(0, 120)}`;
    } catch (err) { last = err.message; }
    await sleep(100);
  }
  throw new Error(`label "${LABEL}" did not appear in GET /labels within ${timeoutMs / 1000} s (${last})`);
}

/**
 * From GET /metrics (service only): the largest per-viewer unsent-bytes figure, if the service
 * exposes one (a gauge whose name says backlog/unsent/buffered and bytes), and its count of viewers
 * closed for being too slow.
 */
async function readMetrics(srv) {
  try {
    const res = await fetch(`${srv.url}/metrics`, { signal: AbortSignal.timeout(800) });
    if (res.status !== 200) return null;
    const text = await res.text();
    let best = null, name = null, tooSlow = null;
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      const v = Number(m[3]);
      if (!Number.isFinite(v)) continue;
      if (/(too_slow|stalled)/i.test(m[1]) && !/_created$/.test(m[1])) tooSlow = (tooSlow ?? 0) + v;
      if (!/(backlog|unsent|buffered)/i.test(m[1]) || !/bytes/i.test(m[1])) continue;
      if (/_(bucket|count|sum|created)$/.test(m[1])) continue;
      if (best === null || v > best) { best = v; name = m[1]; }
    }
    return { bytes: best, metric: name, tooSlow };
  } catch {
    return null;
  }
}

async function slowRun(store, side) {
  const rec = { scenario: 'slow', store, side, ok: false, seconds: opts.slowSeconds };
  const label = `${store.padEnd(6)} slow       #1 ${side.padEnd(7)}`;
  let srv, fb, slow, ref, sampler;
  try {
    srv = await startServer(side, store, `${store}-slow`);
    rec.kind = srv.kind;
    const token = await srv.getToken();
    fb = startFramebench(FANOUT_100, srv, opts.slowSeconds);
    await waitForLabel(srv, token);
    const u = new URL(srv.url);
    const wsPath = `/ws/labels/${encodeURIComponent(LABEL)}?token=${encodeURIComponent(token)}`;
    ref = await openFastViewer(`ws://${u.host}${wsPath}`, token);
    slow = await openSlowViewer({ host: u.hostname, port: Number(u.port), path: wsPath, token, rate: SLOW_RATE, seqFloor: SEQ_FLOOR });
    const tStart = performance.now();
    const samples = [];
    let sampling = false;
    sampler = setInterval(async () => {
      if (sampling) return;
      sampling = true;
      try {
        const now = performance.now();
        const mem = procMemory(srv.pid);
        const metrics = srv.kind === 'service' ? await readMetrics(srv) : null;
        const newest = slow.all.newest;
        const refT = newest ? ref.arrivals.get(`${newest.stream}:${newest.seq}`) : undefined;
        // Frames behind, per camera: newest the fast viewer has minus newest the slow one has (measured phase only).
        let lag = null;
        for (const [s, r] of ref.rx.streams) {
          const mine = slow.measured.streams.get(s);
          if (mine && r.last >= SEQ_FLOOR) lag = Math.max(lag ?? 0, r.last - mine.last);
        }
        const kq = kernelQueues(srv.port, slow.localPort);
        samples.push({
          t: (now - tStart) / 1000, rss: mem?.rss ?? null, backlog: metrics?.bytes ?? null, backlogMetric: metrics?.metric ?? undefined,
          tooSlow: metrics?.tooSlow ?? null,
          kernelSendQ: kq?.serverSendQ ?? null, kernelRecvQ: kq?.clientRecvQ ?? null, serverTcpState: kq?.serverState ?? null,
          age: refT !== undefined ? (now - refT) / 1000 : null, lagFrames: lag,
          active: ref.lastArrival > 0 && now - ref.lastArrival < 500, slowMessages: slow.all.messages, slowOpen: slow.open,
        });
      } finally { sampling = false; }
    }, 1000);
    const fbRes = await fb.done;
    clearInterval(sampler);
    rec.memory = procMemory(srv.pid);
    slow.close();
    ref.close();
    const end = await stopServer(srv);
    srv = null;
    Object.assign(rec, analyseSlow(samples, slow, ref, tStart), {
      ok: fbRes.ok && !end.diedEarly, json: fbRes.json, summary: fbRes.summary, stderr: fbRes.stderr || undefined,
      serverExit: end.exit, logIssues: end.logIssues, samples,
    });
    say(`${label} others: ${fbRes.summary || '(no summary)'}`);
    say(`${label} slow viewer: ${slow.all.messages} frames (${fmt.bytes(slow.readBytes)} read), ${rec.skipped} seq skipped` +
      `${rec.drainedAt != null ? ` (first skip after ${fmt.s(rec.drainedAt)})` : ' (none)'}, kernel socket buffers held up to ${fmt.bytes(rec.kernelMax)}, ` +
      `newest frame ${fmt.s(rec.ageEnd)} old (${rec.lagEnd ?? 'n/a'} frames behind) at the end, age slope after the first skip ${fmt.num(rec.ageSlope)} s/s, ` +
      `server RSS ${fmt.mb(rec.rssBase)} → ${fmt.mb(rec.rssEnd)}${rec.backlogMax != null ? `, max unsent ${fmt.bytes(rec.backlogMax)} (${rec.backlogMetric})` : ''}` +
      `${rec.slowClosed ? `; ${rec.slowClosed}` : ''}`);
    if (!rec.ok) problem(`${store} slow ${side}: ${describeFailure(fbRes, end)}`);
    if (rec.slowClosed && side === 'service') problem(`${store} slow service: the slow viewer (reading 100 KB/s) was ${rec.slowClosed}`);
    reportLogIssues(`${store} slow ${side}`, end.logIssues);
  } catch (err) {
    rec.error = err.message;
    say(`${label} FAILED`);
    problem(`${store} slow ${side}: ${err.message}`);
  } finally {
    clearInterval(sampler);
    slow?.close();
    ref?.close();
    if (fb && !fb.child.done) await stopChild(fb.child, 2000);
    if (srv) await stopServer(srv).catch(() => {});
  }
  return rec;
}

function analyseSlow(samples, slow, ref, tStart) {
  const active = samples.filter((s) => s.active);
  const n = active.length;
  const out = {};
  // RSS: the median of the last fifth of the run against the median just after warm-up.
  const q = Math.max(1, Math.floor(n / 5));
  out.rssBase = median(active.slice(q, 2 * q).map((s) => s.rss));
  out.rssEnd = median(active.slice(n - q).map((s) => s.rss));
  out.rssGrowth = out.rssBase != null && out.rssEnd != null ? out.rssEnd - out.rssBase : null;
  const rssSlope = slope(active.slice(q).map((s) => [s.t, s.rss]));
  out.rssSlopeMBperMin = rssSlope == null ? null : (rssSlope * 60) / 1048576;
  out.rssPeak = Math.max(...samples.map((s) => s.rss ?? 0)) || null;
  const last = active[n - 1];
  out.ageEnd = last?.age ?? null;
  out.lagEnd = last?.lagFrames ?? null;
  // The kernel's socket buffers (the server's send queue, autotuned up to tcp_wmem's maximum, and
  // the slow viewer's receive queue) hold frames in order before any server-side queue: at 100 KB/s
  // they take tens of seconds to drain, and only then can latest-wins show. So "not a growing
  // backlog" is judged on the samples after the first skipped sequence number.
  const kernel = samples.map((s) => (s.kernelSendQ ?? 0) + (s.kernelRecvQ ?? 0)).filter((x) => x > 0);
  out.kernelMax = kernel.length ? Math.max(...kernel) : null;
  out.drainedAt = slow.measured.firstGapAt != null ? (slow.measured.firstGapAt - tStart) / 1000 : null;
  const post = out.drainedAt == null ? [] : active.filter((s) => s.t >= out.drainedAt + 2);
  out.postDrainSamples = post.length;
  out.ageSlope = post.length >= 5 ? slope(post.map((s) => [s.t, s.age])) : null;
  out.ageSlopeWholeRun = slope(active.slice(Math.floor(n / 2)).map((s) => [s.t, s.age]));
  const backlogs = samples.map((s) => s.backlog).filter((x) => x != null);
  out.backlogMax = backlogs.length ? Math.max(...backlogs) : null;
  out.backlogMetric = samples.find((s) => s.backlogMetric)?.backlogMetric ?? null;
  // Sequence numbers of the measured phase (framebench's warm-up frames are numbered below SEQ_FLOOR;
  // every camera's measured frames start at SEQ_FLOOR).
  let skipped = 0, outOfOrder = 0, received = 0;
  for (const s of slow.measured.streams.values()) {
    skipped += s.last - SEQ_FLOOR + 1 - (s.count - s.outOfOrder);
    outOfOrder += s.outOfOrder;
    received += s.count;
  }
  out.frames = slow.all.messages;
  out.framesMeasured = received;
  out.skipped = skipped;
  out.outOfOrder = outOfOrder;
  out.slowBytesRead = slow.readBytes;
  out.slowTexts = slow.state.texts;
  // A server that closes a viewer with megabytes queued rarely gets its close frame through, and the
  // kernel still delivers what it had queued: the socket ends much later than the server closed it.
  // The server side of the connection leaving ESTABLISHED (ss) tells when it closed.
  const srvClosed = samples.find((s) => s.serverTcpState && s.serverTcpState !== 'ESTAB');
  out.serverClosedAt = srvClosed ? srvClosed.t : null;
  const stalledMetric = samples.find((s) => s.tooSlow > 0);
  out.tooSlowAt = stalledMetric ? stalledMetric.t : null;
  const parts = [];
  if (slow.state.closeCode !== null) parts.push(`close ${slow.state.closeCode} ${slow.state.closeReason} received after ${fmt.s(slow.state.closedAt)}`);
  if (out.serverClosedAt !== null) parts.push(`server closed its side by ${fmt.s(out.serverClosedAt)} (TCP ${srvClosed.serverTcpState})`);
  if (out.tooSlowAt !== null) parts.push(`counted in viewers_closed_too_slow by ${fmt.s(out.tooSlowAt)}`);
  if (slow.state.endedByServer) parts.push(`socket ended after ${fmt.s(slow.state.closedAt)}${slow.state.error ? ` (${slow.state.error})` : ''}`);
  out.slowClosed = parts.length ? `closed: ${parts.join('; ')}` : null;
  out.refFrames = ref.rx.messages;
  out.refClosed = ref.closeCode !== null && ref.closeCode !== 1006 ? `${ref.closeCode} ${ref.closeReason}` : null;
  return out;
}

/** Bytes the kernel holds between the server and the slow viewer (ss from iproute2; null without it). */
function kernelQueues(serverPort, clientPort) {
  if (!clientPort || kernelQueues.missing) return null;
  const r = spawnSync('ss', ['-tnH', 'state', 'all', `( sport = :${serverPort} and dport = :${clientPort} ) or ( sport = :${clientPort} and dport = :${serverPort} )`],
    { encoding: 'utf8', timeout: 2000 });
  if (r.error || r.status !== 0) { kernelQueues.missing = true; return null; }
  const out = { serverSendQ: null, clientRecvQ: null, serverState: null };
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+)\s+(\d+)\s+(\d+)\s+\S+:(\d+)\s/.exec(line.trim());
    if (!m) continue;
    if (Number(m[4]) === serverPort) { out.serverSendQ = Number(m[3]); out.serverState = m[1]; }
    else if (Number(m[4]) === clientPort) out.clientRecvQ = Number(m[2]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Redis commands: 100 vs 10 viewers of the same cameras, in a fixed 10 s window

function parseCommandstats(info) {
  const byCmd = {};
  let total = 0;
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (!m) continue;
    const cmd = m[1].toLowerCase();
    if (cmd === 'info' || cmd.startsWith('config')) continue; // our own probes
    if (cmd === 'replconf' || cmd === 'psync' || cmd === 'sync') continue; // a cluster's replicas, not the service
    byCmd[cmd] = Number(m[2]);
    total += Number(m[2]);
  }
  return { total, xread: byCmd.xread ?? 0, byCmd };
}

async function commandsRun(viewers, store = 'redis') {
  const rec = { scenario: 'commands', store, side: 'service', viewers, ok: false };
  const label = `${store.padEnd(6)} commands   ${String(viewers).padStart(3)} viewers`;
  let srv, fb;
  const socks = [];
  try {
    srv = await startServer('service', store, `${store}-commands-${viewers}`);
    rec.kind = srv.kind;
    const token = await srv.getToken();
    // framebench is only the producer here (4 cameras, 10 fps, 20 KB, with one viewer of its own).
    fb = startFramebench(['fanout', '--viewers', '1', '--streams', '4', '--fps', '10', '--size', '20000'], srv,
      COMMANDS_WINDOW_MS / 1000 + 25);
    await waitForLabel(srv, token);
    const u = new URL(srv.url);
    const url = `ws://${u.host}/ws/labels/${encodeURIComponent(LABEL)}?token=${encodeURIComponent(token)}`;
    for (let i = 0; i < viewers; i += 20) {
      socks.push(...await Promise.all(Array.from({ length: Math.min(20, viewers - i) }, () => openFastViewer(url, token))));
    }
    // Frames must be flowing to every viewer before the window opens.
    const end = Date.now() + 15_000;
    const flowing = () => socks.every((v) => v.rx.streams.size > 0 && [...v.rx.streams.values()].some((s) => s.last >= SEQ_FLOOR));
    while (!flowing() && Date.now() < end) await sleep(100);
    if (!flowing()) throw new Error('frames did not reach every viewer within 15 s');
    await sleep(1000);
    // Every server the service talks to (on a cluster: every master; replicas only replicate).
    const servers = redisServersOf(store);
    const before = socks.map((v) => v.rx.messages);
    await Promise.all(servers.map((c) => c.config('RESETSTAT')));
    await sleep(COMMANDS_WINDOW_MS);
    const info = (await Promise.all(servers.map((c) => c.info('commandstats')))).join('\n');
    const per = socks.map((v, i) => v.rx.messages - before[i]);
    Object.assign(rec, parseCommandstats(info), {
      ok: true, framesPerViewerMin: Math.min(...per), framesPerViewerMedian: median(per),
      closedViewers: socks.filter((v) => v.closeCode !== null).length,
    });
    say(`${label}: ${rec.total} Redis calls in 10 s (XREAD ${rec.xread}; ${Object.entries(rec.byCmd).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, n]) => `${k} ${n}`).join(', ')}); ` +
      `frames per viewer in the window: median ${rec.framesPerViewerMedian}, min ${rec.framesPerViewerMin}`);
    if (rec.closedViewers) problem(`${store} commands ${viewers} viewers: ${rec.closedViewers} viewer(s) were closed during the window`);
  } catch (err) {
    rec.error = err.message;
    say(`${label}: FAILED`);
    problem(`${store} commands ${viewers} viewers: ${err.message}`);
  } finally {
    for (const v of socks) v.close();
    if (fb && !fb.child.done) await stopChild(fb.child, 2000);
    if (srv) {
      const end = await stopServer(srv).catch(() => null);
      reportLogIssues(`${store} commands ${viewers} viewers`, end?.logIssues);
    }
  }
  return rec;
}

// ---------------------------------------------------------------------------------------------
// The table

function buildTable() {
  const rows = [];
  const push = (r) => rows.push({ ratioText: fmt.ratio(r.ratio ?? null), ...r });
  for (const store of opts.stores) {
    for (const sc of SCENARIOS) {
      if (!opts.scenarios.includes(sc.id) || (sc.stores && !sc.stores.includes(store))) continue;
      const svc = raw.filter((r) => r.scenario === sc.id && r.store === store && r.side === 'service');
      const bare = raw.filter((r) => r.scenario === sc.id && r.store === store && r.side === 'bare');
      figureRows(sc, store, svc, bare, push);
    }
    if (opts.scenarios.includes('slow')) slowRows(store, push);
  }
  if (opts.scenarios.includes('commands') && opts.stores.includes('redis')) commandRows('redis', push);
  for (const pair of SCALE_PAIRS) {
    if (!scaleSelected(pair.id)) continue;
    const of = (v) => raw.filter((r) => r.scenario === pair.id && r.side === v.side);
    figureRows(pair, `${pair.test.store} vs ${pair.base.store}`, of(pair.test), of(pair.base), push,
      { against: pair.base.label, test: pair.test.label });
  }
  if (scaleSelected('clustercommands')) commandRows('cluster', push);
  if (opts.scenarios.includes('events')) eventIngestRows(eventRuns, opts.stores, push);
  if (opts.scenarios.includes('eventsquery')) eventQueryRows(eventQueryRuns, push);
  return rows;
}

/**
 * The rows of one scenario's figures: the service's runs against the bare server's, or (scale
 * pairs, `names`) one setup of the service against another, judged by the median per-run ratio.
 */
function figureRows(sc, store, svc, bare, push, names = null) {
  const against = names ? ` ${names.against}` : ' bare';
  const tag = (text, name) => (names && text !== 'n/a' ? `${text} (${name})` : text);
  for (const fig of sc.figures) {
    const base = { scenario: sc.name, scenarioId: sc.id, store, figure: fig.figure };
    if (fig.completed) {
      const s = svc.filter((r) => r.ok).length, b = bare.filter((r) => r.ok).length;
      push({ ...base, service: s, bare: b, serviceText: tag(`${s}/${svc.length}`, names?.test), bareText: bare.length ? tag(`${b}/${bare.length}`, names?.against) : '—',
        target: fig.target, result: svc.length && s === svc.length ? 'pass' : 'FAIL' });
      continue;
    }
    const val = (r) => { if (!r.ok || !r.json) return null; const v = fig.get(r.json, r); return typeof v === 'number' && Number.isFinite(v) ? v : null; };
    const sv = svc.map(val), bv = bare.map(val);
    const ratios = [];
    for (let i = 0; i < Math.max(sv.length, bv.length); i++) {
      if (sv[i] != null && bv[i] != null && bv[i] > 0) ratios.push(sv[i] / bv[i]);
    }
    const sMed = median(sv), bMed = median(bv);
    let ratio = fig.noRatio ? null : median(ratios);
    let target = '—', result = '—';
    if (fig.vsScenario) {
      // Against another row of the service (medians of each), not against the bare server.
      const other = raw.filter((r) => r.scenario === fig.vsScenario && r.store === store && r.side === 'service');
      const ref = median(other.map(val));
      ratio = sMed != null && ref ? sMed / ref : null;
      target = `≤ ${fig.ratioMax}× ${fig.vsScenario} (${fig.f(ref)})`;
      result = !other.length ? `— (${fig.vsScenario} not run)` : ratio == null ? 'FAIL (no data)' : ratio <= fig.ratioMax ? 'pass' : 'FAIL';
    } else if (fig.ratioMax != null) {
      target = `≤ ${fig.ratioMax}×${against}`;
      result = ratio == null ? 'FAIL (no data)' : ratio <= fig.ratioMax ? 'pass' : 'FAIL';
    } else if (fig.ratioMin != null) {
      target = `≥ ${fig.ratioMin}×${against}`;
      result = ratio == null ? 'FAIL (no data)' : ratio >= fig.ratioMin ? 'pass' : 'FAIL';
    } else if (fig.abs) {
      target = fig.target;
      result = sMed == null ? 'FAIL (no data)' : fig.abs(sMed) ? 'pass' : 'FAIL';
      // The median decides; a single run that missed an absolute target is still worth a line.
      sv.forEach((v, i) => {
        if (v != null && !fig.abs(v)) problem(`${store} ${sc.id} run ${svc[i].run} service: ${fig.figure} ${fig.f(v)} (target ${fig.target})`);
      });
    }
    push({ ...base, service: sMed, bare: bMed, ratio, serviceText: tag(fig.f(sMed), names?.test), bareText: bare.length ? tag(fig.f(bMed), names?.against) : '—',
      target, result, serviceRuns: sv, bareRuns: bv, ratios });
  }
}

/** Scale rows need Redis (a redis-server of our own) and are picked like scenarios. */
function scaleSelected(id) {
  return opts.scenarios.includes(id) && opts.stores.includes('redis');
}

function slowRows(store, push) {
  const s = slowRuns.find((r) => r.store === store && r.side === 'service');
  const b = slowRuns.find((r) => r.store === store && r.side === 'bare');
  const sc = `slow viewer (100 KB/s) among fanout 100, ${opts.slowSeconds} s`;
  const base = { scenario: sc, scenarioId: 'slow', store };
  const fbv = (r, get) => (r?.ok && r.json ? get(r.json) ?? null : null);
  const rv = (r, k) => (r && !r.error ? r[k] ?? null : null);
  const judge = (v, ok) => (v == null ? 'FAIL (no data)' : ok(v) ? 'pass' : 'FAIL');
  // "The others still meet the first row": judged against the first row's bare figure (the median
  // of its runs) when that row ran, since one slow-viewer run of each server is too few to compare.
  const firstRowBare = raw.filter((r) => r.scenario === 'fanout100' && r.store === store && r.side === 'bare' && r.ok && r.json);
  const ratioRow = (figure, get, k) => {
    const sv = fbv(s, get), bv = fbv(b, get);
    const ref = firstRowBare.length ? median(firstRowBare.map((r) => get(r.json))) : bv;
    const ratio = sv != null && ref ? sv / ref : null;
    push({ ...base, figure, service: sv, bare: bv, ratio, serviceText: fmt.ms(sv), bareText: fmt.ms(bv),
      target: firstRowBare.length ? `≤ ${k}× first row's bare (${fmt.ms(ref)})` : `≤ ${k}× bare`, result: judge(ratio, (x) => x <= k) });
  };
  push({ ...base, figure: 'run completed', service: s?.ok ? 1 : 0, bare: b?.ok ? 1 : 0,
    serviceText: s ? (s.ok ? 'yes' : 'no') : 'n/a', bareText: b ? (b.ok ? 'yes' : 'no') : 'n/a', target: 'yes', result: s?.ok ? 'pass' : 'FAIL' });
  {
    const sv = fbv(s, (j) => j.delivery_ratio), bv = fbv(b, (j) => j.delivery_ratio);
    push({ ...base, figure: 'others: delivered', service: sv, bare: bv, serviceText: fmt.pct(sv), bareText: fmt.pct(bv), target: '100%', result: judge(sv, ok1) });
  }
  {
    const sv = fbv(s, (j) => j.duplicates), bv = fbv(b, (j) => j.duplicates);
    push({ ...base, figure: 'others: duplicates', service: sv, bare: bv, serviceText: fmt.int(sv), bareText: fmt.int(bv), target: '0', result: judge(sv, (x) => x === 0) });
  }
  ratioRow('others: p50 latency', (j) => j.latency_ms?.p50, 1.3);
  ratioRow('others: p99 latency', (j) => j.latency_ms?.p99, 1.5);
  const info = (figure, k, f) => push({ ...base, figure, service: rv(s, k), bare: rv(b, k), serviceText: f(rv(s, k)), bareText: f(rv(b, k)), target: '—', result: '—' });
  info('slow viewer: frames received', 'frames', fmt.int);
  // Before its first skip the slow viewer drains what the kernel's socket buffers hold (several MB
  // on loopback); a run shorter than that cannot show latest-wins, and is not judged on it.
  const short = opts.slowSeconds < 60;
  const tooShort = 'n/a (run too short, see note)';
  info('slow viewer: first skipped frame after', 'drainedAt', fmt.s);
  info('kernel socket buffers held (server Send-Q + viewer Recv-Q, max)', 'kernelMax', fmt.bytes);
  {
    const sv = rv(s, 'skipped');
    push({ ...base, figure: 'slow viewer: skipped sequence numbers', service: sv, bare: rv(b, 'skipped'),
      serviceText: fmt.int(sv), bareText: fmt.int(rv(b, 'skipped')), target: '> 0 (latest wins)',
      result: sv === 0 && short ? tooShort : judge(sv, (x) => x > 0) });
  }
  {
    const sv = rv(s, 'outOfOrder');
    push({ ...base, figure: 'slow viewer: repeated or out-of-order frames', service: sv, bare: rv(b, 'outOfOrder'),
      serviceText: fmt.int(sv), bareText: fmt.int(rv(b, 'outOfOrder')), target: '0', result: judge(sv, (x) => x === 0) });
  }
  info('slow viewer: age of its newest frame at the end', 'ageEnd', fmt.s);
  {
    const sv = rv(s, 'ageSlope');
    let result;
    if (!s || s.error) result = 'FAIL (no data)';
    else if (sv != null) result = sv <= AGE_SLOPE_LIMIT ? 'pass' : 'FAIL';
    else if (s.drainedAt == null) result = short ? tooShort : 'FAIL (never skipped: backlog)';
    else result = short ? tooShort : 'n/a (too few samples after the first skip)';
    const txt = (r) => (r?.ageSlope != null ? fmt.num(r.ageSlope) : r && !r.error ? (r.drainedAt == null ? 'no skip yet' : 'too few samples') : 'n/a');
    push({ ...base, figure: 'slow viewer: age growth after its first skip (s per s)', service: sv, bare: rv(b, 'ageSlope'),
      serviceText: txt(s), bareText: txt(b), target: `≤ ${AGE_SLOPE_LIMIT} (no growing backlog)`, result });
  }
  {
    const closed = s ? (s.slowClosed ?? 'open') : null;
    push({ ...base, figure: 'slow viewer: socket', service: closed, bare: b ? (b.slowClosed ?? 'open') : null,
      serviceText: closed ?? 'n/a', bareText: b ? (b.slowClosed ?? 'open') : 'n/a', target: 'stays open (it reads 100 KB/s)', result: closed == null ? 'FAIL (no data)' : closed === 'open' ? 'pass' : 'FAIL' });
  }
  {
    const sv = rv(s, 'rssGrowth');
    push({ ...base, figure: 'server RSS growth (VmRSS, after warm-up)', service: sv, bare: rv(b, 'rssGrowth'),
      serviceText: sv == null ? 'n/a' : `${sv >= 0 ? '+' : ''}${fmt.mb(sv)}`, bareText: rv(b, 'rssGrowth') == null ? 'n/a' : `${rv(b, 'rssGrowth') >= 0 ? '+' : ''}${fmt.mb(rv(b, 'rssGrowth'))}`,
      target: `≤ +${fmt.mb(RSS_GROWTH_LIMIT)} (does not grow)`, result: judge(sv, (x) => x <= RSS_GROWTH_LIMIT) });
  }
  {
    const limit = 1048576; // VIEWER_MAX_BUFFER_BYTES default; the bench does not change it
    const sv = rv(s, 'backlogMax');
    push({ ...base, figure: `max unsent bytes per viewer (GET /metrics${s?.backlogMetric ? ` ${s.backlogMetric}` : ''})`, service: sv, bare: null,
      serviceText: sv == null ? 'not exposed' : fmt.bytes(sv), bareText: '—', target: `≤ ${fmt.bytes(limit)} (per-viewer limit)`,
      result: sv == null ? '— (skipped)' : sv <= limit ? 'pass' : 'FAIL' });
  }
}

function commandRows(store, push) {
  const c10 = commandRuns.find((r) => r.viewers === 10 && r.store === store);
  const c100 = commandRuns.find((r) => r.viewers === 100 && r.store === store);
  const base = {
    scenario: `Redis commands, 10 s window, 100 vs 10 viewers${store === 'cluster' ? ' (Redis Cluster: every master)' : ''}`,
    scenarioId: store === 'cluster' ? 'clustercommands' : 'commands', store,
  };
  const ok = (r) => r && !r.error;
  const row = (figure, k, judged, f = fmt.int) => {
    const a = ok(c100) ? c100[k] : null, b = ok(c10) ? c10[k] : null;
    const ratio = a != null && b ? a / b : null;
    push({ ...base, figure, service: { v100: a, v10: b }, bare: null, ratio,
      serviceText: `${f(a)} (100 v) / ${f(b)} (10 v)`, bareText: '—',
      target: judged ? '≤ 1.1× (100 v / 10 v)' : '—',
      result: judged ? (ratio == null ? 'FAIL (no data)' : ratio <= 1.1 ? 'pass' : 'FAIL') : '—' });
  };
  row('all Redis calls', 'total', true);
  row('XREAD calls', 'xread', false);
  row('frames per viewer in the window (median)', 'framesPerViewerMedian', false);
  // On a loaded machine the producer may post fewer frames in one window than in the other.
  for (const r of [c10, c100]) if (ok(r) && r.framesPerViewerMedian) r.callsPerFrame = r.total / r.framesPerViewerMedian;
  row('Redis calls per frame', 'callsPerFrame', false, fmt.num);
}

// ---------------------------------------------------------------------------------------------
// Main

function checkPrerequisites() {
  if (!opts.serviceIsBare && !fs.existsSync(SERVICE_MAIN)) {
    throw new Error(`${path.relative(REPO, SERVICE_MAIN)} is missing: build the service first with \`npm run build\` (\`npm run bench\` builds it).`);
  }
  if (opts.stores.includes('redis')) {
    const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      throw new Error('redis-server is not installed (or not on PATH); the Redis column needs a private redis-server. ' +
        'Install it (e.g. `apt-get install redis-server`) or run only the memory store: `--only memory`.');
    }
    if (['cluster', 'clustercommands'].some(scaleSelected)) {
      const cli = spawnSync('redis-cli', ['--version'], { encoding: 'utf8' });
      if (cli.error || cli.status !== 0) throw new Error('redis-cli is not installed: the Redis Cluster rows need it (apt-get install redis-tools)');
    }
  }
}

async function main() {
  installExitHandlers();
  try {
    opts = parseOptions(process.argv.slice(2));
    checkPrerequisites();
  } catch (err) {
    console.error(`bench: ${err.message}`);
    process.exit(2);
  }
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'framestream-bench-run-'));
  onCleanup(() => {
    if (opts.keepLogs) console.log(`logs kept in ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  });
  try {
    tools = prepareTools(opts.benchDir, say);
  } catch (err) {
    console.error(`bench: ${err.message}`);
    await cleanupAll();
    process.exit(2);
  }
  const cpus = os.cpus();
  say(`framestream bench: ${opts.runs} run(s) of each pair, ${opts.seconds} s each; slow viewer ${opts.slowSeconds} s; ` +
    `stores: ${opts.stores.join(', ')}; scenarios: ${opts.scenarios.join(', ')}`);
  say(`node ${process.version}, ${cpus.length} CPU(s) ${cpus[0]?.model ?? ''}, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; tools from ${opts.benchDir}` +
    `${opts.serviceIsBare ? '; SERVICE SIDE IS A BARE SERVER (--service bare)' : ''}`);
  try {
    if (opts.stores.includes('redis')) {
      redises.service = await startRedis('service');
      redises.bare = await startRedis('bare');
      say(`private redis-servers on ports ${redises.service.port} (service) and ${redises.bare.port} (bare)`);
    }
  } catch (err) {
    console.error(`bench: ${err.message}`);
    await cleanupAll();
    process.exit(2);
  }

  if (SCENARIOS.some((sc) => sc.client === 'wall' && opts.scenarios.includes(sc.id) && sc.stores.some((st) => opts.stores.includes(st)))) {
    try {
      photosDir = await preparePhotos();
    } catch (err) {
      console.error(`bench: could not make the photo frames: ${err.message}`);
      await cleanupAll();
      process.exit(2);
    }
  }

  for (const store of opts.stores) {
    for (const sc of SCENARIOS) {
      if (!opts.scenarios.includes(sc.id) || (sc.stores && !sc.stores.includes(store))) continue;
      const client = sc.client === 'wall' ? 'wallbench' : 'framebench';
      say(`== ${store}: ${sc.name}: ${client} ${sc.args.join(' ')}${sc.serviceArgs ? ` (service: ${sc.serviceArgs.join(' ')})` : ''} --seconds ${opts.seconds}`);
      for (let run = 1; run <= opts.runs; run++) {
        for (const side of sc.sides ?? ['service', 'bare']) raw.push(await measuredRun(sc, store, side, run));
      }
    }
    if (opts.scenarios.includes('slow')) {
      say(`== ${store}: slow viewer (${SLOW_RATE / 1000} KB/s) among framebench ${FANOUT_100.join(' ')} --seconds ${opts.slowSeconds}`);
      for (const side of ['service', 'bare']) slowRuns.push(await slowRun(store, side));
    }
  }
  if (opts.scenarios.includes('commands') && opts.stores.includes('redis')) {
    say(`== redis: Redis commands in a ${COMMANDS_WINDOW_MS / 1000} s window (CONFIG RESETSTAT, INFO commandstats), 10 then 100 viewers`);
    for (const n of [10, 100]) commandRuns.push(await commandsRun(n));
  }
  if (['cluster', 'clustercommands'].some(scaleSelected)) {
    try {
      redisCluster = await startCluster();
      say(`Redis Cluster of our own on ports ${redisCluster.ports.join(', ')} (masters ${(await redisCluster.masterPorts()).join(', ')})`);
    } catch (err) {
      problem(`the Redis Cluster could not be started: ${err.message}`);
    }
  }
  for (const pair of SCALE_PAIRS) {
    if (!scaleSelected(pair.id) || (pair.test.store === 'cluster' && !redisCluster)) continue;
    say(`== ${pair.name}: framebench ${pair.args.join(' ')} --seconds ${opts.seconds}`);
    for (let run = 1; run <= opts.runs; run++) {
      for (const v of [pair.test, pair.base]) {
        raw.push(await measuredRun(pair, v.store, v.side, run, { extraEnv: v.env, workers: v.workers ?? 1 }));
      }
    }
  }
  if (scaleSelected('clustercommands') && redisCluster) {
    say(`== cluster: Redis commands in a ${COMMANDS_WINDOW_MS / 1000} s window, summed over the masters, 10 then 100 viewers`);
    for (const n of [10, 100]) commandRuns.push(await commandsRun(n, 'cluster'));
  }
  const eventCtx = { stores: opts.stores, runs: opts.runs, seconds: opts.seconds, work, baseEnv, startServer, stopServer, say, problem, reportLogIssues };
  if (opts.scenarios.includes('events')) eventRuns = await runEventIngest(eventCtx);
  if (opts.scenarios.includes('eventsquery')) {
    say('== event log queries: 100,000 events in SQLite and in PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)');
    eventQueryRuns = await runEventQueries(eventCtx);
  }

  for (const [line, where] of logLines) {
    problems.push(`server logged ${JSON.stringify(line)} in ${where.length} run(s): ${where.slice(0, 4).join('; ')}${where.length > 4 ? '; ...' : ''}`);
  }
  const rows = buildTable();
  const table = markdownTable(rows);
  const failed = rows.filter((r) => String(r.result).startsWith('FAIL'));
  console.log('');
  console.log(`## framestream bench — ${new Date().toISOString()}${opts.serviceIsBare ? ' (service side = bare server)' : ''}`);
  console.log('');
  console.log(table);
  console.log('');
  console.log(`${opts.runs} run(s) of each pair, framebench --seconds ${opts.seconds}; ratios are the median of the per-run service/bare ratios; ` +
    `slow viewer and Redis commands: one run each. ${rows.filter((r) => r.result === 'pass').length} pass, ${failed.length} FAIL.`);
  if (opts.scenarios.includes('slow')) {
    console.log('Slow viewer: it reads 100 KB/s on a raw socket beside the 100 framebench viewers; "age" is how long ago a fast ' +
      'reference viewer received the slow one\'s newest frame. Until the kernel\'s socket buffers between the server and ' +
      'it have drained (the server\'s send queue autotunes up to tcp_wmem\'s maximum) it receives old frames in order ' +
      'whatever the server does, so skipping and the age trend are judged after its first skipped frame' +
      `${opts.slowSeconds < 60 ? ', and not at all in runs under 60 s' : ''}.`);
  }
  if (problems.length) {
    console.log('\nProblems seen during the run:');
    for (const p of [...new Set(problems)]) console.log(`- ${p}`);
  }

  const result = {
    generated: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - t0) / 1000),
    options: { runs: opts.runs, seconds: opts.seconds, slowSeconds: opts.slowSeconds, quick: opts.quick, stores: opts.stores,
      scenarios: opts.scenarios, benchDir: opts.benchDir, serviceIsBare: opts.serviceIsBare },
    machine: { node: process.version, cpus: cpus.length, cpuModel: cpus[0]?.model, totalMemory: os.totalmem(), loadavgAtStart: loadAtStart, kernel, platform: `${os.platform()} ${os.release()}` },
    table: rows.map(({ serviceRuns, bareRuns, ratios, ...r }) => ({ ...r, serviceRuns, bareRuns, ratios })),
    markdown: table,
    problems: [...new Set(problems)],
    runs: raw,
    slow: slowRuns,
    commands: commandRuns,
    events: eventRuns,
    eventQueries: eventQueryRuns,
  };
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nresults: ${path.relative(process.cwd(), opts.out) || opts.out} (${Math.round((Date.now() - t0) / 1000)} s)`);
  await cleanupAll();
  process.exit(failed.length ? 1 : 0);
}

main().catch(async (err) => {
  console.error(`bench: ${err?.stack ?? err}`);
  await cleanupAll();
  process.exit(2);
});
