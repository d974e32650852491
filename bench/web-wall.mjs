#!/usr/bin/env node
// The web viewer under load (run by hand, not in the tests): a wall of 16 cameras at 10 fps with
// ~100 KB photograph-sized JPEGs (1280×720), shown in Debian's headless Chromium for 2 minutes.
// Reports frames drawn per second against frames received, the bytes the page received, main-thread
// time per frame, and the page's JS heap and bitmap memory at the start and the end of the window.
// By default the wall is set to its full stream (every frame as uploaded); --preview leaves it on
// its own choice (previews at a rate that fits; --downlink N makes the browser report N Mbit/s,
// where headless Chromium says 1.45 until it has measured anything).
//
//   npm run bench:web                   (builds first)
//   node bench/web-wall.mjs --seconds 120 --cameras 16 --fps 10 --kb 100 [--width 1920 --height 1080] [--preview [--downlink 10]]
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import WebSocket from 'ws';
import { cleanupAll, freePort, installExitHandlers, onCleanup, sleep, startChild, waitHttp } from './lib/procs.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const opt = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = opt('seconds', 120);
const CAMERAS = opt('cameras', 16);
const FPS = opt('fps', 10);
const KB = opt('kb', 100);
const WARMUP_S = opt('warmup', 10);
const VIEW_W = opt('width', 1920);
const VIEW_H = opt('height', 1080);
const PREVIEW = process.argv.includes('--preview');
const DOWNLINK = opt('downlink', null);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FRAMES_PER_CAMERA = 10;

installExitHandlers();

/** A photograph-like 1280×720 JPEG near `kb` KB: smooth shapes plus grain (the grain sets the size). */
async function makeJpeg(cam, i, grain) {
  const w = 1280, h = 720;
  const raw = Buffer.alloc(w * h * 3);
  let seed = cam * 7919 + i * 104729 + 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      const n = (rnd() - 0.5) * grain;
      raw[o] = Math.max(0, Math.min(255, 90 + 80 * Math.sin((x + i * 13) / 97 + cam) + n));
      raw[o + 1] = Math.max(0, Math.min(255, 110 + 60 * Math.cos(y / 71 + cam) + n));
      raw[o + 2] = Math.max(0, Math.min(255, 120 + 50 * Math.sin((x + y) / 151) + n));
    }
  }
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 70 }).toBuffer();
}

async function frames() {
  // Find the grain that gives about KB kilobytes, then make every camera's frames with it.
  let lo = 0, hi = 120, grain = 40;
  for (let k = 0; k < 8; k++) {
    grain = (lo + hi) / 2;
    const size = (await makeJpeg(0, 0, grain)).length;
    if (size > KB * 1024) hi = grain; else lo = grain;
  }
  const all = [];
  for (let c = 0; c < CAMERAS; c++) {
    const list = [];
    for (let i = 0; i < FRAMES_PER_CAMERA; i++) list.push(await makeJpeg(c, i, grain));
    all.push(list);
  }
  return all;
}

/** RSS of a process's descendants (the browser and its renderer, GPU and utility processes), in total and by kind. */
function treeRss(root) {
  const out = execFileSync('ps', ['-eo', 'pid=,ppid=,rss='], { encoding: 'utf8' });
  const rows = out.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  const kids = new Map();
  for (const [pid, ppid] of rows) (kids.get(ppid) ?? kids.set(ppid, []).get(ppid)).push(pid);
  const rss = new Map(rows.map(([pid, , r]) => [pid, r]));
  let total = 0;
  const byKind = {};
  const stack = [...(kids.get(root) ?? [])];
  while (stack.length) {
    const p = stack.pop();
    const bytes = (rss.get(p) ?? 0) * 1024;
    let kind = 'other';
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (/chrom/i.test(cmd)) kind = /--type=([\w-]+)/.exec(cmd)?.[1] ?? 'browser';
      if (/--utility-sub-type=([\w.]+)/.test(cmd)) kind += `:${/--utility-sub-type=([\w.]+)/.exec(cmd)[1].split('.').pop()}`;
    } catch {
      /* exited */
    }
    if (kind !== 'other') {
      total += bytes;
      byKind[kind] = (byKind[kind] ?? 0) + bytes;
    }
    stack.push(...(kids.get(p) ?? []));
  }
  return { total, byKind };
}

const mb = (b) => `${(b / 1048576).toFixed(1)} MB`;

async function main() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install -y chromium)`);
  if (!fs.existsSync(path.join(REPO, 'dist/public/index.html'))) throw new Error('Build first: npm run build');
  console.log(`Making ${CAMERAS}×${FRAMES_PER_CAMERA} JPEGs of ~${KB} KB...`);
  const images = await frames();
  const sizes = images.flat().map((b) => b.length);
  console.log(`  sizes ${Math.min(...sizes)}..${Math.max(...sizes)} bytes, mean ${Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length)}`);

  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'web-wall-'));
  onCleanup(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const password = crypto.randomBytes(12).toString('base64url');
  const url = `http://127.0.0.1:${port}`;
  const svc = startChild('service', process.execPath, ['--max-semi-space-size=2', path.join(REPO, 'dist/src/main.js')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_PASSWORD: password, JWT_SECRET: crypto.randomBytes(24).toString('hex'), LOG_LEVEL: 'warn' },
    stdout: path.join(dataDir, 'service.log'),
  });
  await waitHttp(`${url}/healthz`, { child: svc });
  const login = await (await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) })).json();
  const token = login.access_token;

  // The producer: one WS /ws/frames connection, every camera at FPS.
  const label = 'wall';
  const producer = new WebSocket(`${url.replace('http', 'ws')}/ws/frames?token=${token}`, { perMessageDeflate: false });
  await new Promise((res, rej) => { producer.once('open', res); producer.once('error', rej); });
  let acked = 0, sent = 0, errors = 0;
  producer.on('message', (d) => { if (String(d).includes('"ok"')) acked++; else errors++; });
  const meta = {
    warnings_json: '{"warning_no_hardhat": {"count": 1}}',
    cone_polygons_json: '[[[100, 600], [300, 600], [260, 450], [140, 450]]]',
    pole_polygons_json: '[]',
    detection_items_json: '[[400, 200, 520, 560, 0.91, 5], [420, 200, 500, 260, 0.88, 2], [700, 300, 1100, 650, 0.95, 8]]',
    width: 1280,
    height: 720,
  };
  // Messages made once: the producer's own CPU stays out of the way of the service and the browser.
  const messages = images.map((list, c) =>
    list.map((img) => Buffer.concat([Buffer.from(JSON.stringify({ label, key: `cam-${String(c + 1).padStart(2, '0')}`, ...meta })), Buffer.from('--IMG--'), img])),
  );
  const timers = [];
  let tickNo = 0;
  const startedAt = Date.now();
  // Frames are sent by the clock, not by timer ticks (which a loaded machine delays): every 20 ms,
  // whatever is due, camera after camera; at most one round of all cameras per tick.
  const t = setInterval(() => {
    const due = Math.floor(((Date.now() - startedAt) / 1000) * FPS * CAMERAS);
    for (let n = 0; tickNo < due && n < CAMERAS; n++) {
      const c = tickNo % CAMERAS;
      const i = Math.floor(tickNo / CAMERAS);
      tickNo++;
      if (producer.bufferedAmount > 8 * 1048576) continue; // do not queue in the bench itself
      producer.send(messages[c][i % FRAMES_PER_CAMERA]);
      sent++;
    }
    if (due - tickNo > CAMERAS * FPS) tickNo = due; // more than a second behind: drop, never burst
  }, 20);
  timers.push(t);
  onCleanup(() => timers.forEach(clearInterval));

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  onCleanup(() => browser.close());
  const page = await browser.newPage({ viewport: { width: VIEW_W, height: VIEW_H } });
  // The wall's picture setting (remembered by the page): its own choice, or every frame.
  await page.addInitScript((q) => localStorage.setItem('framestream.wall.quality', q), PREVIEW ? 'auto' : 'full');
  if (DOWNLINK !== null) {
    await page.addInitScript((mbps) => {
      const connection = Object.assign(new EventTarget(), { downlink: mbps, effectiveType: '4g', saveData: false });
      Object.defineProperty(Navigator.prototype, 'connection', { configurable: true, get: () => connection });
    }, DOWNLINK);
  }
  const wallUrls = [];
  page.on('websocket', (ws) => {
    if (new URL(ws.url()).pathname.startsWith('/ws/labels/')) wallUrls.push(new URL(ws.url()));
  });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(`${url}/#/site/${label}`);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', password);
  await page.click('form.login button[type=submit]');
  await page.waitForFunction((n) => document.querySelectorAll('.tile').length >= n, CAMERAS, { timeout: 30_000 });
  const visible = await page.evaluate(() => [...document.querySelectorAll('.tile')].filter((t) => t.getBoundingClientRect().bottom <= innerHeight).length);
  console.log(`Wall open: ${CAMERAS} tiles (${visible} fully on screen at ${VIEW_W}×${VIEW_H}); warming up ${WARMUP_S} s, then measuring ${SECONDS} s...`);
  await sleep(WARMUP_S * 1000);

  const sample = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    const metrics = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
    const stats = await page.evaluate(() => ({ ...window.__framestream.stats }));
    const dom = await cdp.send('Memory.getDOMCounters');
    const prom = await (await fetch(`${url}/metrics`)).text();
    const gauge = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(prom)?.[1] ?? NaN);
    const cpu = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    return { at: Date.now(), metrics, stats, dom, rss: treeRss(process.pid), sent, acked, stored: gauge('frames_stored_total'), serviceSkipped: gauge('viewer_frames_skipped'), previews: gauge('previews_made'), load: cpu };
  };
  const a = await sample();
  const perTen = [];
  const t0 = Date.now();
  while (Date.now() - t0 < SECONDS * 1000) {
    await sleep(10_000);
    const s = await page.evaluate(() => ({ ...window.__framestream.stats }));
    perTen.push({ t: Math.round((Date.now() - t0) / 1000), drawn: s.drawn, received: s.received, bitmaps: s.bitmapsLive });
  }
  const b = await sample();
  if (process.argv.includes('--trace')) await traceSummary(page);
  const secs = (b.at - a.at) / 1000;
  const d = (k) => b.stats[k] - a.stats[k];
  const drawnPerS = d('drawn') / secs;
  const receivedPerS = d('received') / secs;
  const taskMs = (b.metrics.TaskDuration - a.metrics.TaskDuration) * 1000;
  const scriptMs = (b.metrics.ScriptDuration - a.metrics.ScriptDuration) * 1000;
  const feed = await page.textContent('.tile .tile-feed');
  const query = wallUrls.at(-1)?.searchParams;
  const asked = ['max_fps', 'rendition', 'preview_width'].filter((k) => query?.has(k)).map((k) => `${k}=${query.get(k)}`).join('&') || 'no parameters';
  const bytesPerS = d('bytesReceived') / secs;
  const rows = [
    ['window', `${secs.toFixed(0)} s, ${CAMERAS} cameras × ${FPS} fps × ~${KB} KB (1280×720 JPEG), viewport ${VIEW_W}×${VIEW_H}`],
    ['wall feed (tile says; socket asked)', `${feed}; ${asked} (${wallUrls.length} wall socket${wallUrls.length === 1 ? '' : 's'} opened)${DOWNLINK !== null ? `, browser told ${DOWNLINK} Mbit/s` : ''}`],
    ['bytes received / s (page)', `${(bytesPerS / 1024).toFixed(0)} KB/s = ${((bytesPerS * 8) / 1e6).toFixed(2)} Mbit/s`],
    ['previews made / s (service)', ((b.previews - a.previews) / secs).toFixed(1)],
    ['frames uploaded / s (producer)', ((b.sent - a.sent) / secs).toFixed(1)],
    ['frames stored / s (service)', ((b.stored - a.stored) / secs).toFixed(1)],
    ['skipped by the service for this viewer (latest wins: it read slower)', `${b.serviceSkipped - a.serviceSkipped}`],
    ['frames received / s (page)', receivedPerS.toFixed(1)],
    ['frames decoded / s', (d('decoded') / secs).toFixed(1)],
    ['frames drawn / s', `${drawnPerS.toFixed(1)} (${((100 * drawnPerS) / receivedPerS).toFixed(1)}% of received)`],
    ['skipped (newer frame came first)', `${d('skipped')} (${((100 * d('skipped')) / d('received')).toFixed(1)}%)`],
    ['decode errors', String(d('decodeErrors'))],
    ['main-thread busy (all tasks)', `${((100 * taskMs) / (secs * 1000)).toFixed(1)}% of the time, ${(taskMs / d('drawn')).toFixed(2)} ms per drawn frame, ${(taskMs / d('received')).toFixed(2)} ms per received`],
    ['  of which script', `${(scriptMs / d('drawn')).toFixed(2)} ms per drawn frame`],
    ['  of which style + layout', `${(((b.metrics.RecalcStyleDuration - a.metrics.RecalcStyleDuration + b.metrics.LayoutDuration - a.metrics.LayoutDuration) * 1000) / d('drawn')).toFixed(2)} ms per drawn frame`],
    ['  of which our handlers (decode callback + draw)', `${((b.stats.busyMs - a.stats.busyMs) / d('drawn')).toFixed(2)} ms per drawn frame`],
    ['JS heap used (after GC), start → end', `${mb(a.metrics.JSHeapUsedSize)} → ${mb(b.metrics.JSHeapUsedSize)}`],
    ['ImageBitmaps alive, start → end', `${a.stats.bitmapsLive} (${mb(a.stats.bitmapBytes)}) → ${b.stats.bitmapsLive} (${mb(b.stats.bitmapBytes)})`],
    ['DOM nodes, start → end', `${a.dom.nodes} → ${b.dom.nodes}`],
    ['Chromium RSS (all processes), start → end', `${mb(a.rss.total)} → ${mb(b.rss.total)}`],
    ...Object.keys(b.rss.byKind).sort().map((k) => [`  ${k}`, `${mb(a.rss.byKind[k] ?? 0)} → ${mb(b.rss.byKind[k])}`]),
    ['object URLs created', 'none (frames are decoded from their bytes)'],
    ['machine load average (1 min), start → end', `${a.load} → ${b.load} (${os.cpus().length} cores)`],
  ];
  console.log('\nEvery 10 s (cumulative drawn / received, bitmaps alive):');
  console.log(perTen.map((p) => `  ${p.t}s: ${p.drawn - a.stats.drawn} / ${p.received - a.stats.received}, ${p.bitmaps}`).join('\n'));
  console.log('\n| figure | value |\n|---|---|');
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
  if (errors) console.log(`producer errors: ${errors}`);
}

/** --trace: 5 s of Chromium's timeline, the renderer main thread's time per event name (self time). */
async function traceSummary(page) {
  const browser = page.context().browser();
  const file = path.join(os.tmpdir(), `web-wall-trace-${process.pid}.json`);
  await browser.startTracing(page, { path: file, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink', 'v8'] });
  await sleep(5000);
  await browser.stopTracing();
  const { traceEvents } = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.rmSync(file, { force: true });
  const main = traceEvents.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  const events = traceEvents.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && typeof e.dur === 'number').sort((x, y) => x.ts - y.ts);
  // Self time: an event's duration less its direct children's.
  const self = new Map();
  const stack = [];
  for (const e of events) {
    while (stack.length && stack.at(-1).ts + stack.at(-1).dur <= e.ts) stack.pop();
    if (stack.length) stack.at(-1).child = (stack.at(-1).child ?? 0) + e.dur;
    stack.push(e);
  }
  for (const e of events) self.set(e.name, (self.get(e.name) ?? 0) + e.dur - (e.child ?? 0));
  const top = [...self.entries()].sort((x, y) => y[1] - x[1]).slice(0, 15);
  console.log('\nRenderer main thread, 5 s trace, self time by event (ms):');
  for (const [name, us] of top) console.log(`  ${(us / 1000).toFixed(0).padStart(6)}  ${name}`);
}

main()
  .catch((err) => {
    console.error(`web-wall: ${err.stack ?? err}`);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll().then(() => process.exit()));
