// Starts the service: read the configuration, build the app, listen, shut down gracefully.
import closeWithGrace from 'close-with-grace';
import { ConfigError, loadSettings, type Config } from './config.js';
import { buildApp } from './app.js';

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

const service = await buildApp(config).catch((err: unknown) => {
  console.error(`Could not start: ${(err as Error).message}`);
  process.exit(1);
});
const { app, accounts } = service;
const log = app.log;

if (config.jwtSecretGenerated) {
  log.warn(`JWT_SECRET is not set: tokens are signed with the secret kept in ${config.jwtSecretFile}; ` +
    'set JWT_SECRET (the same on every instance) in production');
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

closeWithGrace({ delay: config.shutdownGraceMs }, async ({ signal, err }) => {
  if (err) log.error({ err }, 'closing after an error');
  else log.info({ signal }, 'shutting down');
  await app.close();
});

try {
  await app.listen({ host: config.host, port: config.port });
} catch (err) {
  console.error(`Could not start: ${listenFailure(err, config)}`);
  await app.close();
  process.exit(1);
}
log.info(`frame store: ${service.store.kind}; accounts: ${config.databaseUrl ? 'PostgreSQL' : 'SQLite'}; docs at /docs`);

/** Why listening failed, in one sentence that names the setting to change. */
function listenFailure(err: unknown, c: Config): string {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${c.host}:${c.port}`;
  if (code === 'EADDRINUSE') return `${where} is already in use by another program (set PORT, or HOST, to another one)`;
  if (code === 'EACCES') return `not allowed to listen on ${where} (ports below 1024 need privileges: set PORT)`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return `HOST ${c.host} is not an address of this machine (set HOST)`;
  return (err as Error).message;
}
