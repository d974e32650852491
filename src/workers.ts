// WORKERS=N: N worker processes share the port (node:cluster; the primary hands each new
// connection to the next worker in turn). Each worker is a whole instance (main.ts): its own
// frame store reader, hub and caches, all sharing Redis and the accounts database, as several
// instances behind a load balancer do. The primary serves nothing itself: it prepares the accounts
// database once (migrations, the first admin) so that the workers do not race to, starts the
// workers, restarts one that dies (waiting longer each time one dies young, so that a crash loop
// does not spin), and on SIGTERM/SIGINT asks every worker to shut down gracefully.
import cluster, { type Worker } from 'node:cluster';
import { pino } from 'pino';
import type { Config } from './config.js';
import { openConnections } from './connections.js';
import { createAccounts, ensureFirstAdmin } from './accounts.js';
import type { Logger } from './lib/log.js';

/** A worker that ran this long before it died is restarted at once; a younger one waits longer each time. */
const STABLE_MS = 30_000;
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;

/**
 * Checks what several processes need and sets up the accounts database once: migrations run,
 * the first admin is created (its generated password printed here, once), Redis answers.
 */
async function prepare(config: Config, log: Logger): Promise<void> {
  const conns = await openConnections(config, { log });
  try {
    if (conns.database.dialect === 'sqlite' && conns.database.journalMode !== 'wal') {
      throw new Error(`the SQLite database ${conns.database.where} could not be put in WAL mode (journal mode ` +
        `"${conns.database.journalMode}": a network file system?), which several worker processes need to share it: ` +
        'use DATABASE_URL (PostgreSQL), a local DATA_DIR, or WORKERS=1');
    }
    const accounts = await createAccounts(config, conns, { log });
    try {
      await ensureFirstAdmin(accounts, log);
    } finally {
      await accounts.close();
    }
  } finally {
    await conns.close();
  }
}

export async function runPrimary(config: Config): Promise<void> {
  const log = pino({ level: config.logLevel }).child({ role: 'primary' });
  try {
    await prepare(config, log);
  } catch (err) {
    console.error(`Could not start: ${(err as Error).message}`);
    process.exit(1);
  }

  let stopping = false;
  const restartTimers = new Set<NodeJS.Timeout>();
  /** Per worker slot: when its current process started, and the wait before the next restart. */
  const slots = new Map<number, { startedAt: number; delay: number }>();
  const slotOf = new Map<Worker, number>();

  // Without JWT_SECRET the workers get the primary's (kept in DATA_DIR), so that a token signed by
  // one is honoured by the others.
  const workerEnv = config.jwtSecretGenerated ? { JWT_SECRET: config.jwtSecret } : {};
  if (config.jwtSecretGenerated) warnGeneratedSecret(config, log);
  const start = (slot: number) => {
    const worker = cluster.fork(workerEnv);
    slotOf.set(worker, slot);
    const s = slots.get(slot) ?? { startedAt: 0, delay: 0 };
    s.startedAt = Date.now();
    slots.set(slot, s);
    log.info({ slot, pid: worker.process.pid }, 'worker started');
  };

  cluster.on('exit', (worker, code, signal) => {
    const slot = slotOf.get(worker);
    slotOf.delete(worker);
    if (slot === undefined || stopping) return;
    const s = slots.get(slot)!;
    const lived = Date.now() - s.startedAt;
    s.delay = lived >= STABLE_MS || s.delay === 0 ? RESTART_MIN_MS : Math.min(s.delay * 2, RESTART_MAX_MS);
    log.error({ slot, pid: worker.process.pid, code, signal, livedMs: lived, restartInMs: s.delay }, 'worker exited; restarting it');
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      if (!stopping) start(slot);
    }, s.delay);
    restartTimers.add(timer);
  });

  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second signal: do not wait any longer.
      log.warn({ signal }, 'second signal: killing the workers');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    for (const t of restartTimers) clearTimeout(t);
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    log.info({ signal, workers: workers.length }, 'shutting down');
    let failed = false;
    const exits = workers.map((w) => new Promise<void>((resolve) => {
      if (w.isDead()) return resolve();
      w.once('exit', (code) => {
        if (code !== 0) failed = true;
        resolve();
      });
      // The worker closes its sockets (1001) and finishes within SHUTDOWN_GRACE_MS.
      w.process.kill('SIGTERM');
    }));
    const deadline = setTimeout(() => {
      log.error({}, 'workers did not stop in time: killing them');
      for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
    }, config.shutdownGraceMs + 5000);
    void Promise.all(exits).then(() => {
      clearTimeout(deadline);
      process.exit(failed ? 1 : 0);
    });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // SIGHUP: with TLS each worker reloads its certificate; without, it stops the service like SIGTERM.
  process.on('SIGHUP', () => {
    if (!config.tlsCert) return shutdown('SIGHUP');
    for (const w of Object.values(cluster.workers ?? {})) if (w && !w.isDead()) w.process.kill('SIGHUP');
  });

  for (let slot = 0; slot < config.workers; slot++) start(slot);
  log.info({ workers: config.workers, port: config.port }, `started ${config.workers} workers`);
}

/**
 * In a worker: graceful shutdown on SIGTERM or SIGINT (both may come, from the primary and from a
 * terminal's Ctrl-C: only the first counts), and when the primary is gone (its IPC channel closes).
 */
export function onWorkerShutdown(shutdown: (why: string) => void): void {
  let done = false;
  const once = (why: string) => {
    if (done) return;
    done = true;
    shutdown(why);
  };
  process.on('SIGTERM', () => once('SIGTERM'));
  process.on('SIGINT', () => once('SIGINT'));
  process.on('disconnect', () => once('primary gone'));
}

/** Said once per service (by the primary, or the only process) when JWT_SECRET is unset. */
export function warnGeneratedSecret(config: Config, log: Logger): void {
  log.warn(`JWT_SECRET is not set: tokens are signed with the secret kept in ${config.jwtSecretFile ?? 'this process'}; ` +
    'set JWT_SECRET (the same on every instance) in production');
}
