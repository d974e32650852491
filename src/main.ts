// Starts the service: read the configuration, build the app, listen, shut down gracefully.
import closeWithGrace from 'close-with-grace';
import { ConfigError, loadConfig, type Config } from './config.js';
import { buildApp } from './app.js';

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

if (config.jwtSecretGenerated) {
  log.warn('JWT_SECRET is not set: using a random secret, so tokens end when this process does');
}
const admin = await accounts.ensureFirstAdmin();
if (admin.created) {
  if (admin.password) {
    // Printed once, to the console only: this is the only copy.
    console.log(`\n  First admin created.  username: ${admin.username}  password: ${admin.password}\n`);
  } else {
    log.info({ username: admin.username }, 'first admin created from ADMIN_USERNAME/ADMIN_PASSWORD');
  }
}

// With TLS, SIGHUP reloads the certificate (a renewal) instead of stopping the service.
if (config.tlsCert) process.on('SIGHUP', () => service.reloadTls());
closeWithGrace({ delay: config.shutdownGraceMs, skip: config.tlsCert ? ['SIGHUP'] : [] }, async ({ signal, err }) => {
  if (err) log.error({ err }, 'closing after an error');
  else log.info({ signal }, 'shutting down');
  await app.close();
});

// The server is made by edge/server.ts, so Fastify cannot tell that it speaks TLS: say it here.
await app.listen({
  host: config.host,
  port: config.port,
  listenTextResolver: (address) => `Server listening at ${config.tlsCert ? address.replace(/^http:/, 'https:') : address}`,
});
log.info(`frame store: ${service.store.kind}; accounts: ${config.databaseUrl ? 'PostgreSQL' : 'SQLite'}; docs at /docs`);
