// Starts the service: read the configuration, build the app, listen, shut down gracefully.
// With WORKERS > 1 this process is the primary of that many worker processes (workers.ts), each of
// which runs the rest of this file.
import cluster from 'node:cluster';
import closeWithGrace from 'close-with-grace';
import { ConfigError, loadConfig, type Config } from './config.js';
import { buildApp } from './app.js';
import { ensureFirstAdmin } from './accounts.js';
import { onWorkerShutdown, runPrimary } from './workers.js';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`Configuration error: ${err.message}`);
    process.exit(2);
  }
  throw err;
}

if (config.workers > 1 && cluster.isPrimary) {
  await runPrimary(config);
} else {
  await serve(config);
}

async function serve(config: Config): Promise<void> {
  const service = await buildApp(config).catch((err: unknown) => {
    console.error(`Could not start: ${(err as Error).message}`);
    process.exit(1);
  });
  const { app, accounts } = service;
  const log = app.log;

  if (config.jwtSecretGenerated) {
    log.warn('JWT_SECRET is not set: using a random secret, so tokens end when this process does');
  }
  // With workers, the primary made the first admin before starting them.
  if (cluster.isPrimary) await ensureFirstAdmin(accounts, log);

  const close = async ({ signal, err }: { signal?: string; err?: Error }) => {
    if (err) log.error({ err }, 'closing after an error');
    else log.info({ signal }, 'shutting down');
    await app.close();
  };
  if (cluster.isPrimary) {
    closeWithGrace({ delay: config.shutdownGraceMs }, close);
  } else {
    // A worker's signals are handled once (the primary and a terminal may both send one).
    const grace = closeWithGrace({ delay: config.shutdownGraceMs, skip: ['SIGINT', 'SIGTERM'] }, close);
    onWorkerShutdown((why) => {
      log.info({ why }, 'worker shutting down');
      void grace.close();
    });
  }

  await app.listen({ host: config.host, port: config.port });
  log.info(`frame store: ${service.store.kind}; accounts: ${config.databaseUrl ? 'PostgreSQL' : 'SQLite'}; docs at /docs`);
}
