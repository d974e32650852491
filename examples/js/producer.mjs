#!/usr/bin/env node
// A small framestream producer (Node.js 20): logs in, keeps its token fresh, and uploads frames of
// one camera, over HTTP (POST /frames, multipart) or over one WebSocket (/ws/frames).
//
//   export FRAMESTREAM_URL=http://127.0.0.1:8000 FRAMESTREAM_USERNAME=cam-north FRAMESTREAM_PASSWORD=...
//   node producer.mjs north-gate cam-1 --via http --count 10
//   node producer.mjs north-gate cam-1 --via ws --image my-frame.jpg
//
// The account must be a model_manager linked to the site (or an admin). Uses fetch and FormData
// (built in) and the `ws` package (npm install ws). Protocol: docs/protocol.md.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

const DELIMITER = Buffer.from('--IMG--');
const log = (text) => console.log(text);

/** Logs in, and refreshes the access token before it expires (or logs in again when the session ended). */
class Tokens {
  constructor(baseUrl, username, password) {
    Object.assign(this, { baseUrl, username, password });
  }

  async login() {
    for (;;) {
      const res = await post(`${this.baseUrl}/login`, { username: this.username, password: this.password });
      if (res.status === 429) {
        const delay = retryDelay(res, 0);
        log(`login: 429 ${res.body.detail}, retrying in ${delay} s`);
        await sleep(delay * 1000);
        continue;
      }
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.body.detail}`);
      this.keep(res.body);
      log(`logged in as ${this.username}`);
      return;
    }
  }

  async refresh() {
    const res = await post(`${this.baseUrl}/refresh`, { refresh_token: this.refreshToken });
    if (res.status === 401) {
      // The session ended (logout, password change, restart without Redis...): start a new one.
      log(`refresh: 401 ${res.body.detail}, logging in again`);
      return this.login();
    }
    if (res.status !== 200) throw new Error(`refresh failed: ${res.status} ${res.body.detail}`);
    this.keep(res.body);
    log('refreshed the access token');
  }

  async accessToken() {
    if (Date.now() / 1000 >= this.refreshAt) await this.refresh();
    return this.access;
  }

  keep(reply) {
    this.access = reply.access_token;
    this.refreshToken = reply.refresh_token;
    // The token's payload says when it expires (exp, iat: seconds since the epoch).
    const { exp, iat } = JSON.parse(Buffer.from(this.access.split('.')[1], 'base64url').toString());
    // A minute before expiry, or halfway for tokens that live less than two minutes.
    this.refreshAt = exp - Math.min(60, (exp - iat) / 2);
  }
}

async function post(url, json) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) });
  return { status: res.status, headers: res.headers, body: await res.json().catch(() => ({})) };
}

/** 429 and 503 say when to come back (Retry-After); without it, back off 1, 2, 4... up to 30 s. */
function retryDelay(res, attempt) {
  return Number(res.headers.get('retry-after')) || Math.min(2 ** attempt, 30);
}

/** What a detector sends with each frame: JSON text in the *_json fields (shapes in docs/protocol.md). */
function metadata(width, height) {
  return {
    warnings_json: JSON.stringify({ warning_no_hardhat: { count: 1 } }),
    cone_polygons_json: JSON.stringify([[[45, 30], [20, 100], [70, 100]]]),
    pole_polygons_json: JSON.stringify([]),
    detection_items_json: JSON.stringify([[95, 40, 139, 94, 0.88, 2]]), // x1, y1, x2, y2, confidence, class
    width: String(width), // 0 = unknown
    height: String(height),
  };
}

/** Width and height of a PNG (from its header); 0, 0 for anything else (the viewer then measures). */
function imageSize(image) {
  const png = image.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  return png ? [image.readUInt32BE(16), image.readUInt32BE(20)] : [0, 0];
}

/** POST /frames as multipart/form-data; retries what can succeed later. True when stored. */
async function uploadHttp(tokens, label, key, image, meta) {
  for (let attempt = 0; attempt < 8; attempt++) {
    const form = new FormData();
    for (const [name, value] of Object.entries({ label, key, ...meta })) form.append(name, value);
    form.append('file', new Blob([image]), 'frame');
    const res = await fetch(`${tokens.baseUrl}/frames`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await tokens.accessToken()}` },
      body: form,
    });
    const body = await res.json().catch(() => ({}));
    if (res.status === 200) return true;
    if (res.status === 401) {
      // Expired or ended session: refresh (or log in again) and retry.
      log(`upload: 401 ${body.detail}, refreshing`);
      await tokens.refresh();
    } else if (res.status === 429 || res.status === 503) {
      // Too many uploads at once / frame store down: wait and retry.
      const delay = retryDelay(res, attempt);
      log(`upload: ${res.status} ${body.detail}, retrying in ${delay} s`);
      await sleep(delay * 1000);
    } else if (res.status === 403) {
      throw new Error(`upload: 403 ${body.detail} (the account needs the site, as a model_manager)`);
    } else {
      // Another 4xx: this frame is wrong (the detail says how); retrying would not help.
      log(`upload: frame refused: ${res.status} ${body.detail}`);
      return false;
    }
  }
  return false;
}

/** Opens /ws/frames; resolves with the socket, or with the close code and reason if it is refused. */
function openSocket(url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve({ ws }));
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.once('error', (err) => resolve({ code: 1006, reason: err.message }));
  });
}

/** One binary message a frame (JSON header, --IMG--, image), each answered with a JSON reply. */
async function uploadWs(tokens, label, key, image, meta, count, interval) {
  const wsUrl = `${tokens.baseUrl.replace(/^http/, 'ws')}/ws/frames`;
  const message = Buffer.concat([Buffer.from(JSON.stringify({ label, key, ...meta })), DELIMITER, image]);
  let sent = 0;
  while (sent < count) {
    // The token may also go in an Authorization header; the query works with every client.
    const { ws, code, reason } = await openSocket(`${wsUrl}?token=${encodeURIComponent(await tokens.accessToken())}`);
    let closed = ws ? null : { code, reason };
    if (ws) {
      log('connected to /ws/frames');
      const replies = [];
      let wake = () => {};
      ws.on('message', (data) => { replies.push(JSON.parse(data.toString())); wake(); });
      ws.on('close', (c, r) => { closed = { code: c, reason: r.toString() }; wake(); });
      ws.on('error', () => {});
      while (sent < count && !closed) {
        ws.send(message);
        while (replies.length === 0 && !closed) await new Promise((r) => (wake = r));
        const reply = replies.shift();
        if (!reply) break;
        sent++;
        // A refused frame leaves the socket open: the message names what was wrong with it.
        log(reply.status === 'ok' ? `uploaded frame ${sent}/${count}` : `frame ${sent} refused: ${reply.message}`);
        await sleep(interval * 1000);
      }
      if (!closed) ws.close(1000);
    }
    if (!closed || sent >= count) break;
    log(`closed: ${closed.code} ${closed.reason}`);
    if (closed.code === 1008 && ['Token not active', 'Invalid token', 'Missing authentication token'].includes(closed.reason)) {
      await tokens.refresh(); // a new token (or a new session), then reconnect
    } else if (closed.code === 1008) {
      throw new Error(`not allowed: ${closed.reason}`);
    } else {
      await sleep(1000); // 1001 shutdown, 1013 try again later, 1006 connection lost: reconnect shortly
    }
  }
}

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    image: { type: 'string', default: new URL('../frame.png', import.meta.url).pathname },
    via: { type: 'string', default: 'http' },
    count: { type: 'string', default: '10' },
    interval: { type: 'string', default: '0.5' },
  },
});
const [label, key] = positionals;
if (!label || !key || !['http', 'ws'].includes(opts.via)) {
  console.error('usage: node producer.mjs LABEL KEY [--via http|ws] [--count N] [--interval SECONDS] [--image FILE]');
  process.exit(2);
}
const baseUrl = (process.env.FRAMESTREAM_URL ?? 'http://127.0.0.1:8000').replace(/\/$/, '');
const tokens = new Tokens(baseUrl, process.env.FRAMESTREAM_USERNAME, process.env.FRAMESTREAM_PASSWORD);
const image = fs.readFileSync(opts.image);
const meta = metadata(...imageSize(image));
const count = Number(opts.count);
const interval = Number(opts.interval);

try {
  await tokens.login();
  if (opts.via === 'ws') {
    await uploadWs(tokens, label, key, image, meta, count, interval);
  } else {
    for (let n = 1; n <= count; n++) {
      if (await uploadHttp(tokens, label, key, image, meta)) log(`uploaded frame ${n}/${count}`);
      await sleep(interval * 1000);
    }
  }
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
