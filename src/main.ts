// Starts the service: read the configuration, build the app, listen, shut down gracefully.
// With WORKERS > 1 this process is the primary of that many worker processes (workers.ts), each of
// which runs the rest of this file.
import cluster from 'node:cluster';
import closeWithGrace from 'close-with-grace';
import { ConfigError, loadSettings, type Config } from './config.js';
import { buildApp } from './app.js';
import { ensureFirstAdmin } from './accounts.js';
import { onWorkerShutdown, runPrimary, warnGeneratedSecret } from './workers.js';

let config: Config;
try {
  config = loadSettings();
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
    if (err instanceof ConfigError) {
      console.error(`Configuration error: ${err.message}`); // a TLS file that is not what it should be
      process.exit(2);
    }
    console.error(`Could not start: ${(err as Error).message}`);
    process.exit(1);
  });
  const { app, accounts } = service;
  const log = app.log;

  if (config.jwtSecretGenerated && cluster.isPrimary) warnGeneratedSecret(config, log);
  // With workers, the primary made the first admin before starting them.
  if (cluster.isPrimary) await ensureFirstAdmin(accounts, log);

  const close = async ({ signal, err }: { signal?: string; err?: Error }) => {
    if (err) log.error({ err }, 'closing after an error');
    else log.info({ signal }, 'shutting down');
    await app.close();
  };
  // With TLS, SIGHUP reloads the certificate (a renewal) instead of stopping the service (with
  // workers, the primary passes it on to each).
  const hup: ('SIGHUP')[] = config.tlsCert ? ['SIGHUP'] : [];
  if (config.tlsCert) process.on('SIGHUP', () => service.reloadTls());
  if (cluster.isPrimary) {
    closeWithGrace({ delay: config.shutdownGraceMs, skip: hup }, close);
  } else {
    // A worker's signals are handled once (the primary and a terminal may both send one).
    const grace = closeWithGrace({ delay: config.shutdownGraceMs, skip: ['SIGINT', 'SIGTERM', ...hup] }, close);
    onWorkerShutdown((why) => {
      log.info({ why }, 'worker shutting down');
      void grace.close();
    });
  }

  try {
    // The server is made by edge/server.ts, so Fastify cannot tell that it speaks TLS: say it here.
    await app.listen({
      host: config.host,
      port: config.port,
      listenTextResolver: (address) => `Server listening at ${config.tlsCert ? address.replace(/^http:/, 'https:') : address}`,
    });
  } catch (err) {
    console.error(`Could not start: ${listenFailure(err, config)}`);
    await app.close();
    process.exit(1);
  }
  log.info(`frame store: ${service.store.kind}; accounts: ${config.databaseUrl ? 'PostgreSQL' : 'SQLite'}; docs at /docs`);
}

/** Why listening failed, in one sentence that names the setting to change. */
function listenFailure(err: unknown, c: Config): string {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${c.host}:${c.port}`;
  if (code === 'EADDRINUSE') return `${where} is already in use by another program (set PORT, or HOST, to another one)`;
  if (code === 'EACCES') return `not allowed to listen on ${where} (ports below 1024 need privileges: set PORT)`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return `HOST ${c.host} is not an address of this machine (set HOST)`;
  return (err as Error).message;
}
