#!/usr/bin/env node
// A small framestream viewer (Node.js 20): logs in, watches every camera of a site
// (WS /ws/labels/{label}) and prints each frame it receives: camera, size, image bytes and warnings.
//
//   export FRAMESTREAM_URL=http://127.0.0.1:8000 FRAMESTREAM_USERNAME=alice FRAMESTREAM_PASSWORD=...
//   node viewer.mjs north-gate             # until Ctrl-C
//   node viewer.mjs north-gate --frames 5  # stop after 5 frames
//
// Any account linked to the site may watch it. Uses fetch (built in) and the `ws` package
// (npm install ws). Protocol: docs/protocol.md.
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

const DELIMITER = Buffer.from('--IMG--');

// The words today's detectors use for each warning code; unknown codes are shown as they are.
const WARNING_WORDS = {
  warning_no_hardhat: '{count} people are not wearing a hardhat',
  warning_no_mask: '{count} people are not wearing a mask',
  warning_no_safety_vest: '{count} people are not wearing a safety vest',
  warning_close_to_machinery: '{count} people are too close to machinery',
  warning_close_to_vehicle: '{count} people are too close to vehicles',
  warning_people_in_controlled_area: '{count} people have entered the controlled area',
  warning_people_in_utility_pole_controlled_area: '{count} people have entered the utility pole restricted area',
  detect_machinery_close_to_pole: '{count} machines are too close to the utility pole',
};

async function login(baseUrl) {
  const res = await fetch(`${baseUrl}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: process.env.FRAMESTREAM_USERNAME, password: process.env.FRAMESTREAM_PASSWORD }),
  });
  const body = await res.json().catch(() => ({}));
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${body.detail}`);
  return body.access_token;
}

/** A frame message: header JSON, the 7 bytes --IMG--, then the image. */
function parse(message) {
  const at = message.indexOf(DELIMITER);
  return { header: JSON.parse(message.subarray(0, at).toString('utf8')), image: message.subarray(at + DELIMITER.length) };
}

/** `warnings` is JSON text: {code: {"count": n}} (today's detectors) or a list of sentences (older ones). */
function warningsText(text) {
  const value = text ? JSON.parse(text) : [];
  if (Array.isArray(value)) return value.map(String);
  return Object.entries(value).map(([code, d]) => (WARNING_WORDS[code] ?? `${code} ({count})`).replace('{count}', d?.count ?? '?'));
}

function describe({ header, image }) {
  // width and height are strings; "0" means unknown (then the image's own size applies).
  const size = header.width !== '0' ? `${header.width}x${header.height}` : 'size unknown';
  const boxes = JSON.parse(header.detection_items || '[]');
  const warnings = warningsText(header.warnings).join('; ') || 'none';
  return `${header.key}: ${size}, ${image.length} bytes, ${boxes.length} boxes, warnings: ${warnings}`;
}

/** One connection: resolves with how it closed, after printing its frames (stops at `left` frames). */
function watchOnce(url, label, left) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    let printed = 0;
    ws.on('open', () => console.log(`watching ${label}`));
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return console.log(JSON.parse(data.toString()).error); // "No keys found for label '...'"
      console.log(describe(parse(data)));
      if (++printed === left) ws.close(1000);
    });
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), printed }));
    ws.on('error', () => {}); // reported by 'close' (1006)
  });
}

const { values: opts, positionals } = parseArgs({ allowPositionals: true, options: { frames: { type: 'string', default: '0' } } });
const [label] = positionals;
if (!label) {
  console.error('usage: node viewer.mjs LABEL [--frames N]');
  process.exit(2);
}
const baseUrl = (process.env.FRAMESTREAM_URL ?? 'http://127.0.0.1:8000').replace(/\/$/, '');
const wsBase = baseUrl.replace(/^http/, 'ws');

try {
  let token = await login(baseUrl);
  let left = Number(opts.frames) || Infinity;
  for (;;) {
    // Browsers cannot set headers on a WebSocket, so the token may go in the query (never logged).
    const { code, reason, printed } = await watchOnce(`${wsBase}/ws/labels/${encodeURIComponent(label)}?token=${encodeURIComponent(token)}`, label, left);
    left -= printed;
    if (left <= 0) break;
    console.log(`closed: ${code} ${reason}`);
    if (code === 1008 && reason === 'Not allowed to view this site') throw new Error('this account may not watch that site');
    if (code === 1008) token = await login(baseUrl); // token expired or session ended: a new session
    else if (code === 1000) await sleep(5000); // after "No keys found": no camera is live yet
    else await sleep(1000); // 1001 shutdown, 1013 too slow / try later, 1006 connection lost
  }
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
