#!/usr/bin/env node
// A live demo site: four cameras feeding generated frames (moving shapes, a clock, detection
// boxes, cone and pole areas, warnings that come and go) through the real upload API, as a real
// producer account (a model_manager of the demo site) that the demo sets up with the admin's login.
//
//   ADMIN_PASSWORD=... npm run demo [-- --url http://127.0.0.1:8000 --site demo --fps 3]
//
// Settings (flags or environment): --url / DEMO_URL (default http://127.0.0.1:$PORT or :8000),
// --admin / ADMIN_USERNAME (default admin) with ADMIN_PASSWORD, --site / DEMO_SITE (demo),
// --producer / DEMO_PRODUCER (demo-camera), --cameras (4), --fps (3), --seconds (0: until Ctrl-C).
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';

function option(name, env, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  return (env && process.env[env]) || fallback;
}

const url = option('url', 'DEMO_URL', `http://127.0.0.1:${process.env.PORT || 8000}`).replace(/\/$/, '');
const adminName = option('admin', 'ADMIN_USERNAME', 'admin');
const adminPassword = option('admin-password', 'ADMIN_PASSWORD', '');
const site = option('site', 'DEMO_SITE', 'demo');
const producer = option('producer', 'DEMO_PRODUCER', 'demo-camera');
const cameras = Math.max(1, Math.min(16, Number(option('cameras', '', '4'))));
const fps = Math.max(0.2, Math.min(15, Number(option('fps', '', '3'))));
const seconds = Number(option('seconds', '', '0'));
const W = 640;
const H = 360;

async function call(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new Error(`cannot reach ${url} (is the service running? npm start): ${err.cause?.code ?? err.message}`);
  }
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) throw Object.assign(new Error(`${method} ${path}: ${res.status} ${json?.detail ?? text}`), { status: res.status });
  return json;
}

/** Sets up the demo site and its producer through the admin API; returns the producer's password. */
async function setUp() {
  if (!adminPassword) {
    console.error('Set ADMIN_PASSWORD (the admin password the service was started with, or the one it printed on first start).');
    process.exit(2);
  }
  const admin = (await call('POST', '/login', { body: { username: adminName, password: adminPassword } })).access_token;
  await call('POST', '/sites', { token: admin, body: { name: site } }).catch((e) => {
    if (e.status !== 409) throw e;
  });
  // A fresh password each run: the demo never needs to store one.
  const password = randomBytes(18).toString('base64url');
  const { users } = await call('GET', '/users', { token: admin });
  const existing = users.find((u) => u.username === producer);
  if (existing) {
    const sites = [...new Set([...existing.sites, site])];
    await call('PATCH', `/users/${existing.id}`, { token: admin, body: { password, role: 'model_manager', is_active: true, sites } });
  } else {
    await call('POST', '/users', { token: admin, body: { username: producer, password, role: 'model_manager', sites: [site] } });
  }
  await call('POST', '/logout', { token: admin });
  return password;
}

const esc = (s) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]);

/** One frame of camera `cam` at time `t` (ms): the picture and the metadata a detector would send. */
function scene(cam, t) {
  const hue = [210, 30, 120, 280][cam % 4];
  const phase = Math.floor(t / 8000 + cam) % 4; // every 8 s the situation changes
  const walk = ((t / 40 + cam * 150) % (W + 120)) - 60;
  const px = Math.round(walk);
  const py = 190 + Math.round(Math.sin(t / 500 + cam) * 6);
  const machineX = Math.round(380 + Math.sin(t / 3000 + cam) * 120);
  const now = new Date(t);
  const sec = now.getSeconds() + now.getMilliseconds() / 1000;
  const min = now.getMinutes() + sec / 60;
  const hr = (now.getHours() % 12) + min / 60;
  const hand = (len, turns) => {
    const a = turns * 2 * Math.PI - Math.PI / 2;
    return `x2="${(580 + Math.cos(a) * len).toFixed(1)}" y2="${(60 + Math.sin(a) * len).toFixed(1)}"`;
  };
  const hat = phase === 1 ? '' : `<rect x="${px - 12}" y="${py - 46}" width="24" height="9" rx="4" fill="#ffd400"/>`;
  const vest = phase === 3 ? '#6d6d6d' : '#ff7a00';
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">
  <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="hsl(${hue},45%,55%)"/><stop offset="1" stop-color="hsl(${hue},30%,25%)"/></linearGradient></defs>
  <rect width="${W}" height="${H}" fill="url(#sky)"/>
  <rect y="250" width="${W}" height="110" fill="#5b4a3a"/>
  <rect x="${machineX}" y="190" width="150" height="70" rx="8" fill="#e0b000"/>
  <rect x="${machineX + 100}" y="150" width="40" height="45" fill="#c49a00"/>
  <circle cx="${machineX + 30}" cy="262" r="16" fill="#222"/><circle cx="${machineX + 120}" cy="262" r="16" fill="#222"/>
  <line x1="70" y1="60" x2="70" y2="260" stroke="#555" stroke-width="8"/>
  <polygon points="120,300 160,240 200,300" fill="#ff6a00"/>
  <circle cx="${px}" cy="${py - 30}" r="12" fill="#f1c27d"/>${hat}
  <rect x="${px - 14}" y="${py - 16}" width="28" height="44" rx="6" fill="${vest}"/>
  <rect x="${px - 12}" y="${py + 28}" width="9" height="32" fill="#333"/><rect x="${px + 3}" y="${py + 28}" width="9" height="32" fill="#333"/>
  <circle cx="580" cy="60" r="44" fill="#fff" stroke="#222" stroke-width="4"/>
  <line x1="580" y1="60" ${hand(24, hr / 12)} stroke="#222" stroke-width="6" stroke-linecap="round"/>
  <line x1="580" y1="60" ${hand(34, min / 60)} stroke="#222" stroke-width="4" stroke-linecap="round"/>
  <line x1="580" y1="60" ${hand(38, sec / 60)} stroke="#d00" stroke-width="2" stroke-linecap="round"/>
  <text x="14" y="30" font-family="DejaVu Sans, sans-serif" font-size="22" fill="#fff">${esc(`camera ${cam + 1}`)}  ${now.toTimeString().slice(0, 8)}</text>
</svg>`;

  const boxes = [
    [px - 18, py - 48, px + 18, py + 62, 0.91, 5],
    phase === 1 ? [px - 14, py - 44, px + 14, py - 16, 0.87, 2] : [px - 14, py - 48, px + 14, py - 36, 0.93, 0],
    phase === 3 ? [px - 16, py - 18, px + 16, py + 30, 0.8, 4] : [px - 16, py - 18, px + 16, py + 30, 0.84, 7],
    [machineX, 150, machineX + 150, 280, 0.95, 8],
    [110, 235, 210, 302, 0.88, 6],
    [60, 55, 80, 262, 0.9, 9],
  ];
  const nearMachine = px > machineX - 40 && px < machineX + 190;
  const warnings = {};
  if (phase === 1) warnings.warning_no_hardhat = { count: 1 };
  if (phase === 3) warnings.warning_no_safety_vest = { count: 1 };
  if (nearMachine && phase !== 0) warnings.warning_close_to_machinery = { count: 1 };
  if (cam === 2 && phase === 2) warnings.warning_fire = { count: 1 }; // a code newer than this viewer's catalogues
  // The last camera speaks like an older producer: ready-made sentences instead of codes.
  const warningsJson =
    cam === 3 && cameras > 3
      ? JSON.stringify(Object.keys(warnings).map((k) => ({ warning_no_hardhat: 'Warning: Someone is not wearing a hardhat!', warning_no_safety_vest: 'Warning: Someone is not wearing a safety vest!', warning_close_to_machinery: 'Warning: Someone is too close to machinery!' })[k] ?? k))
      : JSON.stringify(warnings);
  return {
    svg,
    warnings_json: warningsJson,
    cone_polygons_json: JSON.stringify([[[100, 305], [220, 305], [250, 250], [90, 250]]]),
    pole_polygons_json: JSON.stringify(cam % 2 === 0 ? [[[20, 250], [130, 250], [130, 330], [20, 330]]] : []),
    detection_items_json: JSON.stringify(boxes),
  };
}

let token = null;
let password = null;
async function producerToken(force = false) {
  if (!token || force) token = (await call('POST', '/login', { body: { username: producer, password } })).access_token;
  return token;
}

async function upload(cam) {
  const s = scene(cam, Date.now());
  const jpeg = await sharp(Buffer.from(s.svg)).jpeg({ quality: 75 }).toBuffer();
  const send = async () => {
    const form = new FormData();
    form.append('label', site);
    form.append('key', `camera-${cam + 1}`);
    form.append('file', new Blob([jpeg], { type: 'image/jpeg' }), 'frame.jpg');
    for (const k of ['warnings_json', 'cone_polygons_json', 'pole_polygons_json', 'detection_items_json']) form.append(k, s[k]);
    form.append('width', String(W));
    form.append('height', String(H));
    return fetch(`${url}/frames`, { method: 'POST', headers: { authorization: `Bearer ${await producerToken()}` }, body: form });
  };
  let res = await send();
  if (res.status === 401) {
    await producerToken(true); // the access token expired: log in again
    res = await send();
  }
  if (!res.ok) throw new Error(`upload: ${res.status} ${await res.text()}`);
}

password = await setUp();
await producerToken();
console.log(`Demo: ${cameras} cameras on site "${site}" at ${fps} fps as ${producer}. Open ${url}/#/site/${encodeURIComponent(site)} (Ctrl-C stops).`);
const started = Date.now();
let stopping = false;
process.on('SIGINT', () => {
  stopping = true;
});
process.on('SIGTERM', () => {
  stopping = true;
});
await Promise.all(
  Array.from({ length: cameras }, async (_, cam) => {
    await new Promise((r) => setTimeout(r, cam * 1000)); // cameras start one after another
    let failures = 0;
    while (!stopping && (seconds <= 0 || Date.now() - started < seconds * 1000)) {
      const t0 = Date.now();
      try {
        await upload(cam);
        failures = 0;
      } catch (err) {
        if (failures++ % 20 === 0) console.error(`camera ${cam + 1}: ${err.message}`);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 / fps - (Date.now() - t0))));
    }
  }),
);
console.log('Demo stopped.');
