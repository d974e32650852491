// WORKERS=N: `node dist/src/main.js` as a primary of N worker processes sharing the port, with real
// processes: they share frames and the SQLite accounts through Redis and WAL, a killed worker is
// restarted, SIGTERM stops them all gracefully, and a setup that cannot work is refused at start.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { connect, defaultMeta, jpeg, postFrame, seqOf, uniqueLabel, type Client } from './helpers/frames.js';
import { eventually } from './helpers/http.js';
import { logLines, mainBuilt, startMain, type MainProcess } from './helpers/main-process.js';
import { freePort } from './helpers/ports.js';
import { REDIS_URL, Sandbox, SQLITE } from './helpers/service.js';
import { streamKey } from '../src/frames/keys.js';

const listening = (out: string) => logLines(out).filter((l) => /Server listening/.test(l.msg ?? ''));
const workerPids = (out: string) => new Set(listening(out).map((l) => l.pid as number));

describe.skipIf(!mainBuilt)('WORKERS', () => {
  const sandbox = new Sandbox(SQLITE, 'workers'); // a data folder and a Redis prefix of its own
  let url: string;
  let main: MainProcess;
  let token: string;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // No JWT_SECRET: the workers must still accept each other's tokens.
    main = startMain(sandbox.env({ WORKERS: '2', PORT: String(port), ADMIN_PASSWORD: 'admin-password-123', LOG_LEVEL: 'info', JWT_SECRET: '' }, 'redis'));
    await main.waitFor((out) => listening(out).length >= 2, 50_000); // a loaded machine starts three processes slowly
    const login = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'admin-password-123' }) });
    expect(login.status).toBe(200);
    token = (await login.json()).access_token;
  }, 60_000);

  afterAll(async () => {
    await main?.stop('SIGKILL');
    await sandbox.cleanup();
  });

  it('starts one primary and two workers on one port; the primary prepares the database once', () => {
    expect(workerPids(main.out).size).toBe(2);
    expect(workerPids(main.out).has(main.child.pid!)).toBe(false);
    expect(logLines(main.out).filter((l) => /first admin created/.test(l.msg ?? '')).length).toBe(1);
    expect(logLines(main.out).filter((l) => /JWT_SECRET is not set/.test(l.msg ?? '')).map((l) => l.role)).toEqual(['primary']);
  });

  it('shares frames between the workers: every viewer gets every frame once, whichever worker it reached', async () => {
    const label = uniqueLabel();
    const redis = new Redis(REDIS_URL);
    const viewers: Client[] = [];
    try {
      expect((await postFrame(url, token, { label, key: 'cam', ...defaultMeta }, jpeg(0))).status).toBe(200);
      // New connections go to the workers in turn: these viewers are on both.
      for (let i = 0; i < 4; i++) viewers.push(await connect(url, `/ws/labels/${label}`, token));
      for (let s = 1; s <= 10; s++) expect((await postFrame(url, token, { label, key: 'cam', ...defaultMeta }, jpeg(s))).status).toBe(200);
      for (const v of viewers) {
        await v.until(() => v.frames.length >= 11, 5000, 'every frame');
        expect(v.frames.map((f) => seqOf(f.image).seq)).toEqual(Array.from({ length: 11 }, (_, i) => i));
      }
      const opened = logLines(main.out).filter((l) => l.msg === 'socket open' && l.label === label);
      expect(new Set(opened.map((l) => l.pid)).size).toBe(2);
    } finally {
      viewers.forEach((v) => v.close());
      await redis.del(streamKey(label, 'cam'));
      redis.disconnect();
    }
  });

  it('restarts a worker that dies, and keeps serving meanwhile', async () => {
    const before = workerPids(main.out);
    const victim = [...before][0]!;
    process.kill(victim, 'SIGKILL');
    await main.waitFor(/worker exited; restarting it/, 5000);
    expect((await fetch(`${url}/healthz`)).status).toBe(200); // the other worker answers
    await main.waitFor((out) => workerPids(out).size === 3, 15_000);
    const restarted = [...workerPids(main.out)].find((p) => !before.has(p))!;
    expect(restarted).toBeTruthy();
    const exit = logLines(main.out).find((l) => /worker exited/.test(l.msg ?? ''))!;
    expect(exit).toMatchObject({ pid: victim, signal: 'SIGKILL', restartInMs: 500 });
    await main.waitFor((out) => listening(out).some((l) => l.pid === restarted), 15_000);

    // Dying again young: the next restart waits twice as long (a crash loop does not spin).
    process.kill(restarted, 'SIGKILL');
    await main.waitFor((out) => logLines(out).filter((l) => /worker exited/.test(l.msg ?? '')).length === 2, 5000);
    const again = logLines(main.out).filter((l) => /worker exited/.test(l.msg ?? ''))[1]!;
    expect(again).toMatchObject({ pid: restarted, restartInMs: 1000 });
    await main.waitFor((out) => listening(out).length === 4, 15_000);
    await eventually(async () => (await fetch(`${url}/readyz`)).status === 200, 5000, 'ready');
  });

  it('shuts every worker down gracefully on SIGTERM: sockets get 1001, exit code 0', async () => {
    const viewers: Client[] = [];
    for (let i = 0; i < 2; i++) viewers.push(await connect(url, '/ws/stream/north/cam', token));
    const workers = [...workerPids(main.out)].filter((p) => alive(p));
    expect(workers.length).toBe(2);
    expect(await main.stop('SIGTERM')).toBe(0);
    for (const v of viewers) expect((await v.waitClose()).code).toBe(1001);
    for (const p of workers) expect(alive(p)).toBe(false);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!mainBuilt)('WORKERS refused', () => {
  it('refuses several workers without Redis, naming the setting', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-workers-'));
    try {
      const r = startMain({ WORKERS: '2', DATA_DIR: dataDir, PORT: '0' });
      expect(await r.exited).toBe(2);
      expect(r.out).toMatch(/WORKERS: more than one worker needs REDIS_URL or REDIS_CLUSTER_NODES/);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
