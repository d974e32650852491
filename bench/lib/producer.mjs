#!/usr/bin/env node
// A producer for the safety-events bench: framebench's ingest load (closed loop: N concurrent
// keep-alive POST /frames, the same multipart layout and frame size, cameras in turn), except that
// it chooses what every frame's warnings_json holds. framebench always sends the older sentence
// list ["bench warning"], so it cannot measure ingest without warnings; this one runs the same load
// with and without, and the bench compares the two.
//   node bench/lib/producer.mjs --url http://127.0.0.1:8000 --token T --warnings none|code|sentence
//        [--seconds 10] [--concurrency 8] [--size 100000] [--streams 4] [--label bench] [--json FILE]
// The last line printed is a one-line summary.
import http from 'node:http';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

const WARNINGS = {
  none: () => '{}',
  // Two warnings a frame; the count varies, so events' peaks move and the parse cache misses.
  code: (i) => JSON.stringify({ warning_no_hardhat: { count: 1 + (i % 3) }, warning_close_to_machinery: { count: 1 } }),
  sentence: () => JSON.stringify(['Warning: Someone is not wearing a hardhat!']),
};

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(`bad argument ${argv[i]}`);
    o[argv[i].slice(2)] = argv[i + 1];
  }
  const num = (k, d) => (o[k] === undefined ? d : Number(o[k]));
  if (!o.url || !o.token) throw new Error('give --url and --token');
  if (!WARNINGS[o.warnings ?? 'none']) throw new Error(`--warnings must be one of ${Object.keys(WARNINGS).join(', ')}`);
  return {
    url: o.url, token: o.token, warnings: o.warnings ?? 'none', json: o.json, label: o.label ?? 'bench',
    seconds: num('seconds', 10), concurrency: num('concurrency', 8), size: num('size', 100_000), streams: num('streams', 4),
  };
}

/** JPEG signature, COM padding to `size`, end of image: what the service checks is the signature. */
function frame(size, stream) {
  const b = Buffer.alloc(size, 0x41);
  b[0] = 0xff; b[1] = 0xd8; b[2] = 0xff; b[3] = 0xfe;
  b.writeUInt16BE(Math.min(65535, size - 4), 4);
  b.writeUInt16BE(stream, 6);
  b[size - 2] = 0xff; b[size - 1] = 0xd9;
  return b;
}

function body(boundary, label, key, warnings, image) {
  const field = (name, value) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const head = Buffer.from(
    field('label', label) + field('key', key) + field('warnings_json', warnings) +
    field('cone_polygons_json', JSON.stringify([[[10, 10], [60, 10], [60, 40]]])) + field('pole_polygons_json', '[]') +
    field('detection_items_json', JSON.stringify([[1, 2, 30, 40, 0.9, 0]])) + field('width', '64') + field('height', '48') +
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="frame.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
  );
  return Buffer.concat([head, image, Buffer.from(`\r\n--${boundary}--\r\n`)]);
}

function pct(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const u = new URL('/frames', o.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const boundary = 'producerboundary5e2a';
  // Per camera, a few bodies (the code shape varies its count).
  const bodies = Array.from({ length: o.streams }, (_, s) =>
    Array.from({ length: 3 }, (_, i) => body(boundary, o.label, `cam-${s}`, WARNINGS[o.warnings](i), frame(o.size, s))));
  const post = (b) => new Promise((resolve) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': b.length, authorization: `Bearer ${o.token}` },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', (e) => resolve({ status: 0, body: String(e) }));
    req.end(b);
  });
  const lat = [];
  const statuses = {};
  let seq = 0, ok = 0;
  const t0 = performance.now();
  const end = t0 + o.seconds * 1000;
  await Promise.all(Array.from({ length: o.concurrency }, async (_, w) => {
    while (performance.now() < end) {
      const n = seq++;
      const b = bodies[(w + n) % o.streams][Math.floor(n / o.streams) % 3];
      const t = performance.now();
      const r = await post(b);
      lat.push(performance.now() - t);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.status === 200) ok++;
      else if (statuses[r.status] === 1) console.error(`status ${r.status}: ${r.body.slice(0, 200)}`);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  agent.destroy();
  const s = Float64Array.from(lat).sort();
  const out = {
    scenario: 'ingest', warnings: o.warnings, frames_ok: ok, seconds: secs, frames_per_s: ok / secs, statuses,
    latency_ms: { n: s.length, p50: pct(s, 50), p99: pct(s, 99), max: s.length ? s[s.length - 1] : NaN },
    concurrency: o.concurrency, streams: o.streams, frame_bytes: o.size,
  };
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(out));
  console.log(JSON.stringify(out));
  console.log(`producer (${o.warnings} warnings): ${out.frames_per_s.toFixed(2)} frames/s ok=${ok} p50=${out.latency_ms.p50.toFixed(2)}ms p99=${out.latency_ms.p99.toFixed(2)}ms statuses=${JSON.stringify(statuses)}`);
}

main().catch((err) => {
  console.error(`producer: ${err.message}`);
  process.exit(2);
});
