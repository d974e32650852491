// The safety-events rows of the bench.
// - Ingest with warnings: the service, fresh each run, under framebench's ingest load from
//   bench/lib/producer.mjs, with every frame carrying warnings (the code object; the older sentence
//   list) or none, interleaved; judged by the median of the per-run "with / without" ratios of
//   frames/s (target: within 10%). After each run /metrics shows that every frame with warnings
//   reached the recorder and nothing was dropped. Two loads: framebench's 4 cameras, and 64.
// - Event log queries: 100,000 events inserted into SQLite and into PostgreSQL (a schema of its
//   own), then the API's filtered, paginated queries timed through the service's repository.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { sleep, startChild, stopChild } from './procs.mjs';
import { fmt, median } from './stats.mjs';

const PRODUCER = fileURLToPath(new URL('./producer.mjs', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

export const EVENT_LOADS = [
  { id: 'cams4', name: 'ingest with warnings, 8 producers × 100 KB, 4 cameras (framebench’s load)', streams: 4, modes: ['none', 'code', 'sentence'] },
  { id: 'cams64', name: 'ingest with warnings, 8 producers × 100 KB, 64 cameras', streams: 64, modes: ['none', 'code'] },
];
const MODE_TEXT = { code: 'every frame with 2 warnings (code object)', sentence: 'every frame with a sentence list' };

/** CPU seconds (user + system) a process has used, from /proc (null where there is none). */
function cpuSeconds(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

async function metrics(url) {
  const out = {};
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    for (const m of text.matchAll(/^(events_\w+|webhook_\w+) (\S+)$/gm)) out[m[1]] = Number(m[2]);
  } catch { /* none */ }
  return out;
}

function runProducer(ctx, srv, load, mode) {
  const json = path.join(ctx.work, `producer-${load.id}-${mode}-${Date.now()}.json`);
  const args = [PRODUCER, '--url', srv.url, '--token', srv.auth[1], '--warnings', mode, '--seconds', String(ctx.seconds),
    '--concurrency', '8', '--size', '100000', '--streams', String(load.streams), '--json', json];
  const child = startChild('producer', process.execPath, args, { env: ctx.baseEnv(), stdout: 'pipe', raiseFds: true });
  let out = '', err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const timer = setTimeout(() => stopChild(child, 2000), (ctx.seconds + 60) * 1000);
  return child.exited.then(({ code }) => {
    clearTimeout(timer);
    let result = null;
    try { result = JSON.parse(fs.readFileSync(json, 'utf8')); } catch { /* none */ }
    const lines = out.trim().split('\n').filter(Boolean);
    return { ok: code === 0 && result !== null, result, summary: lines[lines.length - 1] ?? '', stderr: err.trim() };
  });
}

/** Runs every load × mode × store `runs` times, interleaved; returns the raw records. */
export async function runEventIngest(ctx) {
  const records = [];
  for (const store of ctx.stores) {
    for (const load of EVENT_LOADS) {
      ctx.say(`== ${store}: ${load.name}: bench/lib/producer.mjs --warnings ${load.modes.join('|')} --seconds ${ctx.seconds}`);
      for (let run = 1; run <= ctx.runs; run++) {
        for (const mode of load.modes) {
          const rec = { scenario: 'events', load: load.id, store, mode, run, ok: false };
          const label = `${store.padEnd(6)} events/${load.id.padEnd(6)} #${run} ${mode.padEnd(8)}`;
          let srv;
          try {
            srv = await ctx.startServer('service', store, `${store}-events-${load.id}-${mode}-${run}`);
            const cpu0 = cpuSeconds(srv.pid);
            const p = await runProducer(ctx, srv, load, mode);
            const cpu1 = cpuSeconds(srv.pid);
            await sleep(1500); // the recorder's last batch (a continuing warning is written every second)
            rec.metrics = await metrics(srv.url);
            if (cpu0 !== null && cpu1 !== null && p.result?.frames_ok) rec.cpuPerFrameUs = ((cpu1 - cpu0) * 1e6) / p.result.frames_ok;
            const end = await ctx.stopServer(srv);
            srv = null;
            Object.assign(rec, { ok: p.ok && !end.diedEarly, json: p.result, summary: p.summary, logIssues: end.logIssues });
            const m = rec.metrics;
            ctx.say(`${label} ${p.summary || '(no summary)'} | service CPU ${fmt.num(rec.cpuPerFrameUs ?? null)} µs/frame | recorded ${m.events_frames_recorded ?? 'n/a'}, dropped ${m.events_frames_dropped ?? 'n/a'}, events ${m.events_created ?? 'n/a'}, write failures ${m.events_write_failures ?? 'n/a'}`);
            if (!rec.ok) ctx.problem(`${store} events ${load.id} ${mode} run ${run}: ${p.stderr || 'producer failed'}`);
            const want = mode === 'none' ? 0 : p.result?.frames_ok;
            if (rec.ok && m.events_frames_recorded !== want) ctx.problem(`${store} events ${load.id} ${mode} run ${run}: recorder took ${m.events_frames_recorded} frames, expected ${want}`);
            if (m.events_frames_dropped) ctx.problem(`${store} events ${load.id} ${mode} run ${run}: ${m.events_frames_dropped} frames' warnings dropped`);
            ctx.reportLogIssues(`${store} events ${load.id} ${mode} run ${run}`, end.logIssues);
          } catch (err) {
            rec.error = err.message;
            ctx.say(`${label} FAILED`);
            ctx.problem(`${store} events ${load.id} ${mode} run ${run}: ${err.message}`);
            if (srv) await ctx.stopServer(srv).catch(() => {});
          }
          records.push(rec);
        }
      }
    }
  }
  return records;
}

export function eventIngestRows(records, stores, push) {
  for (const store of stores) {
    for (const load of EVENT_LOADS) {
      const of = (mode) => records.filter((r) => r.store === store && r.load === load.id && r.mode === mode);
      const fps = (r) => (r.ok && r.json ? r.json.frames_per_s : null);
      const p99 = (r) => (r.ok && r.json ? r.json.latency_ms?.p99 : null);
      const none = of('none');
      for (const mode of load.modes.filter((m) => m !== 'none')) {
        const withW = of(mode);
        const ratios = (get) => withW.map((r, i) => (get(r) != null && none[i] && get(none[i]) ? get(r) / get(none[i]) : null)).filter((x) => x != null);
        const base = { scenario: load.name, scenarioId: 'events', store };
        const fr = median(ratios(fps));
        push({ ...base, figure: `frames/s: ${MODE_TEXT[mode]} (service) vs none (bare column)`, service: median(withW.map(fps)), bare: median(none.map(fps)),
          ratio: fr, serviceText: fmt.fps(median(withW.map(fps))), bareText: fmt.fps(median(none.map(fps))), target: '≥ 0.9× without',
          result: fr == null ? 'FAIL (no data)' : fr >= 0.9 ? 'pass' : 'FAIL' });
        push({ ...base, figure: `p99 latency: ${MODE_TEXT[mode]} vs none`, service: median(withW.map(p99)), bare: median(none.map(p99)),
          ratio: median(ratios(p99)), serviceText: fmt.ms(median(withW.map(p99))), bareText: fmt.ms(median(none.map(p99))), target: '—', result: '—' });
        // CPU per frame moves much less than frames/s when the machine is shared.
        const cpu = (r) => (r.ok ? r.cpuPerFrameUs ?? null : null);
        const us = (x) => (x == null ? 'n/a' : `${x.toFixed(0)} µs`);
        push({ ...base, figure: `service CPU per frame: ${MODE_TEXT[mode]} vs none`, service: median(withW.map(cpu)), bare: median(none.map(cpu)),
          ratio: median(ratios(cpu)), serviceText: us(median(withW.map(cpu))), bareText: us(median(none.map(cpu))), target: '—', result: '—' });
        const recorded = withW.every((r) => r.ok && r.metrics?.events_frames_recorded === r.json.frames_ok && !r.metrics?.events_frames_dropped);
        const created = median(withW.map((r) => r.metrics?.events_created ?? null));
        push({ ...base, figure: `${mode}: every frame's warnings recorded, none dropped (events created per run)`, service: recorded ? 1 : 0, bare: null,
          serviceText: `${recorded ? 'yes' : 'no'} (${fmt.int(created)})`, bareText: '—', target: 'yes', result: recorded ? 'pass' : 'FAIL' });
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Event log queries on 100,000 events

const SITES = 20, CAMERAS = 8, N = 100_000, DAYS = 30;
const CODES = ['warning_no_hardhat', 'warning_no_safety_vest', 'warning_close_to_machinery', 'warning_close_to_vehicle',
  'warning_people_in_controlled_area', 'warning_people_in_utility_pole_controlled_area', 'detect_machinery_close_to_pole'];
// 80% new, 10% acknowledged, 5% false positive, 5% resolved.
const STATUS_OF = (k) => (k === 0 ? 'resolved' : k === 1 ? 'false_positive' : k < 4 ? 'acknowledged' : 'new');

/** A small seeded PRNG (mulberry32): the same 100,000 events every run, sites, cameras, codes and statuses independent. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function seed(db, now, describeWarning) {
  const t0 = now - DAYS * 86_400_000;
  const step = (DAYS * 86_400_000) / N;
  const rnd = prng(19);
  const pick = (n) => Math.floor(rnd() * n);
  let rows = [];
  for (let i = 1; i <= N; i++) {
    const code = CODES[pick(CODES.length)];
    const first = Math.round(t0 + i * step);
    const peak = 1 + pick(4);
    rows.push({
      site: `site-${pick(SITES)}`, camera: `cam-${pick(CAMERAS)}`, code, kind: 'code',
      words: describeWarning(code, 'code', peak).words, count: 1, peak_count: peak,
      first_seen: first, last_seen: first + 5000 + pick(60) * 1000, frames_seen: 5 + pick(50),
      first_frame_id: `${first}-0`, last_frame_id: `${first + 5000}-0`, has_snapshot: 0, has_peak_snapshot: 0,
      status: STATUS_OF(pick(20)), created_seq: i, change_seq: i,
    });
    if (rows.length === 500) {
      await db.insertInto('events').values(rows).execute();
      rows = [];
    }
  }
  if (rows.length) await db.insertInto('events').values(rows).execute();
  await db.updateTable('events_state').set({ value: N }).where('name', '=', 'change_seq').execute();
}

const QUERIES = (now) => {
  const day = 86_400_000;
  const three = ['site-0', 'site-1', 'site-2'];
  return [
    { name: 'one site, newest 50', judged: true, run: (r) => r.list({ sites: ['site-0'], limit: 51 }) },
    { name: 'site + camera + warning + status', judged: true,
      run: (r) => r.list({ sites: ['site-0'], camera: 'cam-3', code: 'warning_no_hardhat', statuses: ['new'], limit: 51 }) },
    { name: 'a user’s 3 sites, a page deep in (cursor)', judged: true, run: (r) => r.list({ sites: three, after: { firstSeen: now - 15 * day, id: N / 2 }, limit: 51 }) },
    { name: 'one site, one day (since/until)', judged: true, run: (r) => r.list({ sites: ['site-0'], since: now - 15 * day, until: now - 14 * day, limit: 51 }) },
    { name: 'admin: every site, status new', judged: true, run: (r) => r.list({ sites: null, statuses: ['new'], limit: 51 }) },
    { name: 'one site, status acknowledged + camera', judged: true, run: (r) => r.list({ sites: ['site-0'], camera: 'cam-5', statuses: ['acknowledged'], limit: 51 }) },
    { name: 'one site, text search (q=vest)', judged: false, run: (r) => r.list({ sites: ['site-0'], q: 'vest', limit: 51 }) },
    { name: 'summary: one site, 7 days', judged: false, run: (r) => r.summary(['site-0'], now - 7 * day, now, 0) },
    { name: 'live-feed resume: 1,000 changes back, 3 sites’ (pages of 200)', judged: false, run: async (r) => {
      const sites = new Set(three);
      const mine = [];
      for (let after = N - 1000; ;) {
        const page = await r.changesSince(after, 200);
        mine.push(...page.filter((e) => sites.has(e.site)));
        if (page.length < 200) return mine;
        after = Number(page[page.length - 1].change_seq);
      }
    } },
  ];
};

async function timeQueries(repo, now) {
  const out = [];
  for (const q of QUERIES(now)) {
    for (let i = 0; i < 3; i++) await q.run(repo);
    const ms = [];
    let rows = 0;
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      rows = (await q.run(repo)).length;
      ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    out.push({ name: q.name, judged: q.judged, rows, median: median(ms), p95: ms[Math.floor(ms.length * 0.95)], max: ms[ms.length - 1] });
  }
  return out;
}

/** Seeds 100,000 events in SQLite and PostgreSQL and times the queries; returns records per database. */
export async function runEventQueries(ctx) {
  const { openDatabase, dropSchema } = await import(path.join(REPO, 'dist/src/db/database.js'));
  const { EventsRepository } = await import(path.join(REPO, 'dist/src/events/repository.js'));
  const { describeWarning } = await import(path.join(REPO, 'dist/src/events/catalogue.js'));
  const { sql } = await import('kysely');
  const pgUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const records = [];
  for (const dbName of ['sqlite', 'postgres']) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'framestream-bench-events-'));
    const schema = `bench_events_${process.pid}`;
    const rec = { scenario: 'eventsquery', db: dbName, ok: false };
    let database;
    try {
      database = await openDatabase({ databaseUrl: dbName === 'postgres' ? pgUrl : null, dataDir }, dbName === 'postgres' ? { schema } : {});
      const now = Date.now();
      const t = performance.now();
      await seed(database.db, now, describeWarning);
      rec.seedSeconds = (performance.now() - t) / 1000;
      // PostgreSQL's autovacuum analyzes a table this changed within a minute or so; do it now.
      // (SQLite gets no ANALYZE: the service never runs one.)
      if (dbName === 'postgres') await sql`analyze events`.execute(database.db);
      const repo = new EventsRepository(database.db, 30_000);
      rec.queries = await timeQueries(repo, now);
      rec.ok = true;
      ctx.say(`${dbName.padEnd(8)} 100,000 events inserted in ${fmt.s(rec.seedSeconds)}; ` +
        rec.queries.map((q) => `${q.name}: ${q.median.toFixed(2)} ms (p95 ${q.p95.toFixed(2)}, ${q.rows} rows)`).join('; '));
    } catch (err) {
      rec.error = err.message;
      ctx.problem(`events query bench on ${dbName}: ${err.message}`);
    } finally {
      await database?.close().catch(() => {});
      if (dbName === 'postgres') await dropSchema(pgUrl, schema).catch(() => {});
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
    records.push(rec);
  }
  return records;
}

export function eventQueryRows(records, push) {
  for (const rec of records) {
    const base = { scenario: 'event log: 100,000 events, the API’s queries (page of 50)', scenarioId: 'eventsquery', store: rec.db };
    if (!rec.ok) {
      push({ ...base, figure: 'ran', serviceText: 'no', bareText: '—', target: 'yes', result: 'FAIL' });
      continue;
    }
    for (const q of rec.queries) {
      // Judged by the median of 30 runs (a busy machine's p95 mostly measures the others' load).
      push({ ...base, figure: `${q.name}: median / p95 of 30 (${q.rows} rows)`, service: q.median, bare: null,
        serviceText: `${q.median.toFixed(2)} / ${q.p95.toFixed(2)} ms`, bareText: '—', target: q.judged ? 'median < 50 ms' : '—',
        result: q.judged ? (q.median < 50 ? 'pass' : 'FAIL') : '—' });
    }
  }
}
