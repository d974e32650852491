#!/usr/bin/env node
// wallbench: the measuring client of the wall rows (framebench does not speak max_fps or
// rendition, and its frames are small images padded to size). One process, like framebench, so
// that send and receive times share a clock:
// - producers POST photo-like JPEGs (--frames-dir: cam-<i>.jpg) for --streams cameras at --fps;
//   the stamp (stream, sequence, send time) rides as extra columns of a detection box
//   ([x1, y1, x2, y2, confidence, class, stream, seq, t, run]), which the service forwards
//   verbatim and a preview, which re-encodes the image, keeps (`run` tells this run's frames from
//   any a server still holds from another);
// - --wall-viewers push viewers with --wall-query (e.g. max_fps=2&rendition=preview): bytes
//   received, and the age of each camera's newest frame sampled every 50 ms;
// - --full-viewers push viewers without parameters: delivery, duplicates and latency of every frame
//   of the measured phase, as framebench's fanout measures them.
// With --server-pid it reads the server's CPU time (/proc) over the measured window, and GET
// /metrics (plain node:http, as the producer: no fetch, whose heap would slow this client) for the
// previews the service made. Prints one JSON object (and writes it to --json), then a summary line.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const DELIM = Buffer.from('--IMG--');
const SEQ_BASE = 1_000_000; // measured frames; warm-up frames are numbered from 0
const RUN = Math.floor(Math.random() * 2 ** 31);

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--')) throw new Error(`unexpected argument ${argv[i]}`);
    o[argv[i].slice(2)] = argv[i + 1];
  }
  const num = (k, d) => (o[k] === undefined ? d : Number(o[k]));
  return {
    url: o.url ?? 'http://127.0.0.1:8000', token: o.token, label: o.label ?? 'bench', seconds: num('seconds', 10),
    streams: num('streams', 16), fps: num('fps', 10), framesDir: o['frames-dir'],
    wallViewers: num('wall-viewers', 0), wallQuery: o['wall-query'] ?? 'max_fps=2&rendition=preview',
    fullViewers: num('full-viewers', 0), serverPid: o['server-pid'] ? Number(o['server-pid']) : null, json: o.json,
  };
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const summarize = (xs) => {
  const s = Float64Array.from(xs).sort();
  return { n: s.length, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s.length ? s[s.length - 1] : null };
};
const f2 = (x) => (x == null || !Number.isFinite(x) ? 'n/a' : x.toFixed(2));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The stamp a producer put in the header's detection boxes; null for anything else. */
function stampOf(data) {
  const i = data.indexOf(DELIM);
  if (i < 0) return null;
  try {
    const box = JSON.parse(JSON.parse(data.subarray(0, i).toString('utf8')).detection_items)[0];
    return box && box.length >= 10 && box[9] === RUN ? { stream: box[6], seq: box[7], t: box[8] } : null;
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------------------------- producing

function multipart(boundary, fields, image) {
  let head = '';
  for (const [k, v] of Object.entries(fields)) head += `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`;
  head += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="frame.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), image, Buffer.from(`\r\n--${boundary}--\r\n`)]);
}

function poster(opts) {
  const u = new URL('/frames', opts.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.streams * 2 });
  const boundary = 'wallbenchboundary51c3';
  const post = (body) => new Promise((resolve) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length, authorization: `Bearer ${opts.token}` } },
    (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', () => resolve(0));
    req.end(body);
  });
  return { post, boundary, close: () => agent.destroy() };
}

/** Posts every camera at `fps` until stopAt(); calls onSent(stream, seq, ms the upload took) for each stored frame. */
async function produce(opts, images, p, seqBase, stopAt, onSent) {
  const interval = 1000 / opts.fps;
  let errors = 0;
  await Promise.all(images.map(async (image, s) => {
    let next = performance.now();
    let seq = seqBase;
    while (performance.now() < stopAt()) {
      const t = performance.now();
      const items = JSON.stringify([[100, 120, 300, 400, 0.9, 5, s, seq, t, RUN]]);
      const body = multipart(p.boundary, {
        label: opts.label, key: `cam-${s}`, warnings_json: '{"warning_no_hardhat":{"count":1}}', cone_polygons_json: '[]',
        pole_polygons_json: '[]', detection_items_json: items, width: '1280', height: '720',
      }, image);
      const status = await p.post(body);
      if (status === 200) onSent(s, seq, performance.now() - t);
      else if (errors++ === 0) console.error(`post status ${status}`);
      seq++;
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      else next = performance.now();
    }
  }));
  return errors;
}

// ------------------------------------------------------------------------------------- viewing

function openViewer(opts, query) {
  const u = new URL(`/ws/labels/${encodeURIComponent(opts.label)}${query ? `?${query}` : ''}`, opts.url);
  u.protocol = 'ws:';
  const ws = new WebSocket(u, { headers: { authorization: `Bearer ${opts.token}` }, perMessageDeflate: false });
  ws.binaryType = 'nodebuffer';
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_q, res) => reject(new Error(`viewer refused: HTTP ${res.statusCode}`)));
  });
}

class WallViewer {
  constructor(ws, streams) {
    this.ws = ws;
    this.newest = new Array(streams).fill(null); // per camera: { seq, t } of the newest frame held
    this.bytes = 0;
    this.messages = 0;
    this.measured = new Array(streams).fill(0); // frames of the measured phase per camera
    this.ages = [];
    this.latencies = [];
    this.outOfOrder = 0;
    this.measuring = false;
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return;
      const now = performance.now();
      const st = stampOf(data);
      if (!st) return;
      if (this.measuring) { this.bytes += data.length; this.messages++; }
      const have = this.newest[st.stream];
      if (have && st.seq <= have.seq) { this.outOfOrder++; return; }
      this.newest[st.stream] = { seq: st.seq, t: st.t };
      if (this.measuring && st.seq >= SEQ_BASE) { this.measured[st.stream]++; this.latencies.push(now - st.t); }
    });
  }
  /** The age of every camera's newest frame now (Infinity for a camera not shown yet). */
  sample(now) {
    for (const n of this.newest) this.ages.push(n ? now - n.t : Infinity);
  }
}

class FullViewer {
  constructor(ws, stats) {
    const seen = new Set();
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return;
      const st = stampOf(data);
      if (!st || st.seq < SEQ_BASE || !stats.measuring) return;
      const k = st.stream * 1e8 + st.seq;
      if (seen.has(k)) { stats.duplicates++; return; }
      seen.add(k);
      stats.latencies.push(performance.now() - st.t);
    });
    this.ws = ws;
  }
}

// ------------------------------------------------------------------------------------- the server

function cpuSeconds(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(parts[11]) + Number(parts[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return null;
  }
}

function previewsMade(opts) {
  return new Promise((resolve) => {
    const req = http.get(new URL('/metrics', opts.url), (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        const m = /^previews_made (\S+)$/m.exec(text);
        const s = /^previews_skipped (\S+)$/m.exec(text);
        resolve(res.statusCode === 200 && m ? { made: Number(m[1]), skipped: s ? Number(s[1]) : null } : null);
      });
    });
    req.on('error', () => resolve(null));
    req.setTimeout(2000, () => { req.destroy(); resolve(null); });
  });
}

// ------------------------------------------------------------------------------------- the run

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!opts.token || !opts.framesDir) throw new Error('give --token and --frames-dir');
  const files = fs.readdirSync(opts.framesDir).filter((f) => /^cam-\d+\.jpg$/.test(f)).sort();
  if (!files.length) throw new Error(`no cam-<i>.jpg in ${opts.framesDir}`);
  const images = Array.from({ length: opts.streams }, (_, s) => fs.readFileSync(path.join(opts.framesDir, files[s % files.length])));
  const p = poster(opts);

  // Warm-up: every camera gets frames, so that the label exists and viewers get a snapshot.
  let stop = Infinity;
  const warm = produce(opts, images, p, 0, () => stop, () => {});
  await sleep(600);
  stop = 0;
  await warm;

  const full = { measuring: false, duplicates: 0, latencies: [] };
  const fullViewers = [];
  for (let v = 0; v < opts.fullViewers; v++) fullViewers.push(new FullViewer(await openViewer(opts, ''), full));
  const walls = [];
  for (let v = 0; v < opts.wallViewers; v++) walls.push(new WallViewer(await openViewer(opts, opts.wallQuery), opts.streams));
  await sleep(300);

  // Measured phase: producers run for --seconds; frame ages are sampled from 1 s in (every
  // viewer has had time to receive each camera at max_fps >= 1) to the end.
  const t0 = performance.now();
  const stopAt = t0 + opts.seconds * 1000;
  for (const w of walls) w.measuring = true;
  full.measuring = true;
  const cpu0 = opts.serverPid ? cpuSeconds(opts.serverPid) : null;
  const prev0 = await previewsMade(opts);
  let posted = 0;
  const uploads = [];
  const sampler = setInterval(() => {
    const now = performance.now();
    if (now - t0 < 1000 || now > stopAt) return;
    for (const w of walls) w.sample(now);
  }, 50);
  const postErrors = await produce(opts, images, p, SEQ_BASE, () => stopAt, (_s, _q, ms) => { posted++; uploads.push(ms); });
  const secs = (performance.now() - t0) / 1000;
  const cpu1 = opts.serverPid ? cpuSeconds(opts.serverPid) : null;
  const prev1 = await previewsMade(opts);
  clearInterval(sampler);
  await sleep(500); // in-flight frames land
  for (const w of walls) w.measuring = false;
  full.measuring = false;
  for (const v of [...fullViewers, ...walls]) v.ws.terminate();
  p.close();

  const wallOut = walls.map((w) => {
    const age = summarize(w.ages.filter(Number.isFinite));
    const notShown = w.ages.filter((a) => !Number.isFinite(a)).length;
    return {
      mbitPerSec: (w.bytes * 8) / 1e6 / secs, messages: w.messages, bytes: w.bytes,
      shown: w.measured.filter((n) => n > 0).length / opts.streams, minFramesPerCamera: Math.min(...w.measured),
      ageMs: age, ageP99WithUnshown: notShown > w.ages.length / 100 ? Infinity : age.p99, latencyMs: summarize(w.latencies),
      outOfOrder: w.outOfOrder,
    };
  });
  const worst = (k) => (wallOut.length ? Math.max(...wallOut.map(k)) : null);
  const l = summarize(full.latencies);
  const expected = posted * opts.fullViewers;
  const out = {
    scenario: 'wall', streams: opts.streams, fps: opts.fps, frame_bytes: Math.round(images.reduce((s, b) => s + b.length, 0) / images.length),
    seconds: secs, frames_posted: posted, post_errors: postErrors, upload_ms: summarize(uploads), wall_query: opts.wallQuery,
    wall: wallOut.length ? {
      viewers: wallOut.length, mbitPerSecMax: worst((w) => w.mbitPerSec), ageP99Max: worst((w) => w.ageP99WithUnshown),
      ageP50Median: wallOut.map((w) => w.ageMs.p50).sort((a, b) => a - b)[wallOut.length >> 1],
      shownMin: Math.min(...wallOut.map((w) => w.shown)), outOfOrder: wallOut.reduce((s, w) => s + w.outOfOrder, 0),
      latencyP50Median: wallOut.map((w) => w.latencyMs.p50).sort((a, b) => a - b)[wallOut.length >> 1],
      perViewer: wallOut,
    } : null,
    viewers: opts.fullViewers,
    unique_deliveries: full.latencies.length, expected_deliveries: expected,
    delivery_ratio: expected ? full.latencies.length / expected : null, duplicates: full.duplicates, latency_ms: l,
    server: {
      cpuSeconds: cpu0 != null && cpu1 != null ? cpu1 - cpu0 : null,
      cpuCores: cpu0 != null && cpu1 != null ? (cpu1 - cpu0) / secs : null,
      previewsMadePerSec: prev0 && prev1 ? (prev1.made - prev0.made) / secs : null,
      previewsSkippedPerSec: prev0 && prev1 && prev0.skipped != null ? (prev1.skipped - prev0.skipped) / secs : null,
    },
  };
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(out, null, 2));
  console.log(JSON.stringify(out));
  const parts = [`wall: ${opts.streams} cams × ${opts.fps} fps × ${Math.round(out.frame_bytes / 1000)} KB, posted=${posted}`];
  if (out.wall) {
    parts.push(`${out.wall.viewers} wall viewer(s) ?${opts.wallQuery}: max ${f2(out.wall.mbitPerSecMax)} Mbit/s, age p50 ${f2(out.wall.ageP50Median)} ms ` +
      `p99(worst) ${f2(out.wall.ageP99Max)} ms, shown ${f2(100 * out.wall.shownMin)}%`);
  }
  if (opts.fullViewers) parts.push(`${opts.fullViewers} full viewers: delivered ${full.latencies.length}/${expected} (${f2(100 * out.delivery_ratio)}%) dup=${full.duplicates} p50=${f2(l.p50)}ms p99=${f2(l.p99)}ms`);
  if (out.server.cpuCores != null) parts.push(`server CPU ${f2(out.server.cpuCores)} cores`);
  if (out.server.previewsMadePerSec != null) parts.push(`previews ${f2(out.server.previewsMadePerSec)}/s`);
  console.log(parts.join(' | '));
}

main().then(() => process.exit(0), (err) => { console.error(err?.stack ?? err); process.exit(1); });
