// Child processes of the benchmark: every one is registered here, so that a normal end, an error
// and Ctrl-C all stop them (no orphan servers). Also: free ports, waiting for a server to answer,
// and /proc/<pid>/status.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

const children = new Set();
const cleanups = [];

/** Raises the soft file-descriptor limit in children when it is low (1,000 viewers need sockets). */
let wrapForFds = false;
try {
  const soft = Number(spawnSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
  wrapForFds = Number.isFinite(soft) && soft < 8192;
} catch { /* no /bin/sh: leave the limit alone */ }

/**
 * Starts a registered child. stdout/stderr: 'ignore', 'pipe' or a file path (appended).
 * The returned child has .exited (a promise of { code, signal }) and .done (boolean).
 */
export function startChild(name, cmd, args, { env, cwd, stdout = 'ignore', stderr = stdout, raiseFds = false } = {}) {
  const fd = (how) => (how === 'ignore' || how === 'pipe' ? how : fs.openSync(how, 'a'));
  const outFd = fd(stdout);
  const errFd = stderr === stdout ? outFd : fd(stderr);
  let file = cmd, argv = args;
  if (raiseFds && wrapForFds) {
    // exec keeps the pid: /proc/<pid> is still the node process itself.
    file = '/bin/sh';
    argv = ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', cmd, ...args];
  }
  const child = spawn(file, argv, { env, cwd, stdio: ['ignore', outFd, errFd] });
  for (const f of [outFd, errFd]) if (typeof f === 'number') try { fs.closeSync(f); } catch { /* closed already */ }
  child.benchName = name;
  child.startedAt = Date.now();
  child.done = false;
  children.add(child);
  child.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      child.done = true;
      child.exitedAt = Date.now();
      children.delete(child);
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      child.done = true;
      children.delete(child);
      child.spawnError = err;
      resolve({ code: null, signal: null, error: err });
    });
  });
  return child;
}

/** SIGTERM, then SIGKILL after graceMs. Resolves with { code, signal, killed } once it has exited. */
export async function stopChild(child, graceMs = 5000) {
  if (!child || child.done) return child ? await child.exited : null;
  try { child.kill('SIGTERM'); } catch { /* gone */ }
  let timer;
  const killed = await Promise.race([
    child.exited.then(() => false),
    new Promise((r) => { timer = setTimeout(() => r(true), graceMs); }),
  ]);
  clearTimeout(timer);
  if (killed) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
  const res = await child.exited;
  return { ...res, killed };
}

/** A function to run at the end (temporary folders, Redis clients...). Returns an unregister function. */
export function onCleanup(fn) {
  cleanups.push(fn);
  return () => { const i = cleanups.indexOf(fn); if (i >= 0) cleanups.splice(i, 1); };
}

let cleaning = null;
export function cleanupAll() {
  if (!cleaning) {
    cleaning = (async () => {
      await Promise.all([...children].map((c) => stopChild(c, 3000)));
      for (const fn of cleanups.splice(0).reverse()) {
        try { await fn(); } catch { /* best effort */ }
      }
    })();
  }
  return cleaning;
}

/** Kills children on Ctrl-C, SIGTERM, crashes and exit. */
export function installExitHandlers(log = console.error) {
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      if (interrupted) {
        for (const c of children) try { c.kill('SIGKILL'); } catch { /* gone */ }
        process.exit(130);
      }
      interrupted = true;
      log(`\n${sig}: stopping ${children.size} child process(es)...`);
      cleanupAll().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
  }
  process.on('uncaughtException', (err) => {
    log(`bench: unexpected error: ${err?.stack ?? err}`);
    cleanupAll().finally(() => process.exit(2));
  });
  process.on('unhandledRejection', (err) => {
    log(`bench: unexpected error: ${err?.stack ?? err}`);
    cleanupAll().finally(() => process.exit(2));
  });
  // Last resort: whatever is still running when the process exits is killed synchronously.
  process.on('exit', () => {
    for (const c of children) try { c.kill('SIGKILL'); } catch { /* gone */ }
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls url until ok(res) or the child exits or the time runs out. */
export async function waitHttp(url, { child, timeoutMs = 30_000, ok = (res) => res.status === 200, what = url } = {}) {
  const end = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < end) {
    if (child?.done) throw new Error(`${what} exited before it answered (${last})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer().catch(() => {});
      if (ok(res)) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err?.cause?.code ?? err?.message ?? String(err);
    }
    await sleep(100);
  }
  throw new Error(`${what} did not answer within ${timeoutMs / 1000} s (${last})`);
}

/** VmRSS and VmHWM of a process, in bytes (null when it is gone). */
export function procMemory(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => { const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s); return m ? Number(m[1]) * 1024 : null; };
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

export function tail(file, lines = 20) {
  try {
    const t = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    return t.slice(-lines).join('\n');
  } catch {
    return '';
  }
}
