// buildApp(config): the whole service as one Fastify instance, in layers: framework plugins, then
// the shared connections and the service's parts (frame store, accounts, hub), then routes. This is
// the composition root: every part gets what it needs from here. main.ts only starts it; tests
// build it the same way and listen on a random port.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Config } from './config.js';
import { Close, CloseReason, rateLimited } from './errors.js';
import { httpReply } from './error-mapping.js';
import { openConnections, type Connections } from './connections.js';
import { createAccounts, type Accounts } from './accounts.js';
import type { FrameStore } from './frames/store.js';
import { openFrameStore } from './frames/open-store.js';
import { Hub } from './streaming/hub.js';
import { tcpTuningAvailable } from './streaming/tcp-tuning.js';
import { streamingRoutes } from './streaming/routes.js';
import { ingestRoutes, METADATA_ALLOWANCE } from './ingest/routes.js';
import { observabilityRoutes, Metrics } from './observability/routes.js';
import { requireAuth } from './auth/guard.js';
import { ClientLimits } from './edge/limits.js';
import { createServer } from './edge/server.js';
import { registerBrowserSecurity } from './edge/browser-security.js';
import { readTls, reloadTls, warnIfExpiring } from './edge/tls.js';

export interface Service {
  app: FastifyInstance;
  config: Config;
  connections: Connections;
  store: FrameStore;
  accounts: Accounts;
  hub: Hub;
  /** What each client address and user holds (connections, sockets, requests). */
  limits: ClientLimits;
  /** Reads TLS_CERT/TLS_KEY again for new connections (SIGHUP); false when not reloaded. */
  reloadTls(): boolean;
}

export interface BuildOptions {
  /** false: no logging (tests). */
  logger?: false;
  /** Where log lines go (default stdout). */
  logStream?: NodeJS.WritableStream;
  /** PostgreSQL schema for the accounts tables (tests give each file its own). */
  dbSchema?: string;
}

/** How long a socket closed by a shutdown may take to answer the close frame before it is cut. */
const CLOSE_ANSWER_WAIT_MS = 1000;

/** Never log a token: sockets may carry it as ?token=. */
export function redactToken(url: string): string {
  return url.replace(/([?&]token=)[^&]*/gi, '$1[redacted]');
}

/** Secrets that a log call might be handed by mistake: pino writes them as [redacted]. */
const REDACTED_LOG_PATHS = [
  'password', '*.password', 'token', '*.token', 'access_token', '*.access_token', 'refresh_token', '*.refresh_token',
  'authorization', '*.authorization', '*.headers.authorization', '*.headers.cookie',
];

export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<Service> {
  const tlsFiles = readTls(config); // ConfigError (naming the setting) before anything is opened
  const limits = new ClientLimits(config);
  const app = Fastify({
    logger: opts.logger ?? {
      level: config.logLevel,
      ...(opts.logStream ? { stream: opts.logStream } : {}),
      serializers: {
        req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: redactToken(req.url), ip: req.ip }),
      },
      redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
    },
    serverFactory: (handler) => createServer(config, tlsFiles, limits, handler),
    trustProxy: config.trustProxy,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });

  // --- framework plugins
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const r = httpReply(err);
    if (r.status >= 500) req.log.error({ err }, 'request failed');
    const retryAfter = (err as { retryAfter?: unknown }).retryAfter;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
    else if (r.status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', '60');
    return reply.code(r.status).send({ detail: r.detail, code: r.code });
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ detail: 'Not Found', code: 'NOT_FOUND' }));
  if (tlsFiles) warnIfExpiring(tlsFiles, app.log);
  await registerBrowserSecurity(app, config);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Frame streaming service', version: '0.1.0', description: 'Live annotated frames from site cameras.' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // --- the shared connections and the service's parts
  const connections = await openConnections(config, { log: app.log, dbSchema: opts.dbSchema });
  let store: FrameStore | null = null;
  let accounts: Accounts | null = null;
  try {
    store = await openFrameStore(config, connections, app.log);
    accounts = await createAccounts(config, connections, { log: app.log });
  } catch (err) {
    await Promise.allSettled([store?.close(), accounts?.close()]);
    await connections.close();
    throw err;
  }
  app.addHook('onClose', async () => {
    await Promise.allSettled([store!.close(), accounts!.close()]);
    await connections.close();
  });
  // Only routes that ask are limited (global: false). With Redis the counters live under
  // <REDIS_PREFIX>rate:, so every instance shares them; a Redis hiccup lets requests through rather
  // than turning each into a 500.
  await app.register(rateLimit, {
    global: false,
    ...(connections.redis ? { redis: connections.redis.client, nameSpace: `${config.redisPrefix}rate:` } : {}),
    skipOnError: true,
    errorResponseBuilder: (_req, ctx) => rateLimited(ctx.ttl / 1000),
  });
  const hub = new Hub(store, {
    maxBufferBytes: config.viewerMaxBufferBytes,
    stallMs: config.viewerStallMs,
    maxViewers: config.maxViewers,
    tcpNotsentLowat: config.viewerTcpNotsentLowat,
  }, app.log);
  if (config.viewerTcpNotsentLowat > 0 && !tcpTuningAvailable) {
    app.log.warn('VIEWER_TCP_NOTSENT_LOWAT cannot be applied (native addon not built: run npm ci, or npm run install): ' +
      'slow viewers get frames as old as the kernel buffers hold unless net.ipv4.tcp_notsent_lowat is set (README, Deployment notes)');
  }
  const metrics = new Metrics(hub, { watchedSockets: () => accounts!.authenticator.watching, limits });

  // Requests under way when a shutdown begins (an upload) are finished, then their connections
  // closed: told so in the reply, and closed once idle if the client keeps them anyway, instead of
  // holding the shutdown for a keep-alive timeout.
  let shuttingDown = false;
  app.addHook('onSend', async (_req, reply) => {
    if (shuttingDown) reply.header('connection', 'close');
  });
  await app.register(websocket, {
    options: { maxPayload: config.maxFrameBytes + METADATA_ALLOWANCE, perMessageDeflate: false },
    // Shutdown: viewers and producers are told 1001 and may reconnect to another instance.
    preClose(done) {
      shuttingDown = true;
      setInterval(() => app.server.closeIdleConnections(), 100).unref();
      hub.close();
      for (const client of app.websocketServer.clients) client.close(Close.GOING_AWAY, CloseReason.SHUTDOWN);
      app.websocketServer.close(); // no new upgrades on connections still open
      // A peer that does not answer the close frame must not hold the shutdown (ws waits 30 s).
      setTimeout(() => {
        for (const client of app.websocketServer.clients) client.terminate();
      }, CLOSE_ANSWER_WAIT_MS).unref();
      done();
    },
  });

  // --- routes (the per-user limits are application hooks, so they come first)
  limits.register(app);
  const guard = requireAuth(accounts.authenticator);
  await app.register(accounts.routes);
  await app.register(async (scope) => {
    await streamingRoutes(scope, {
      config,
      store,
      hub,
      authenticator: accounts.authenticator,
      requireAuth: guard,
    });
    await ingestRoutes(scope, {
      config,
      store,
      authenticator: accounts.authenticator,
      requireAuth: guard,
      onStored: () => metrics.framesStored.inc(),
    });
    await observabilityRoutes(scope, { store, hub, metrics, pingAccounts: () => connections.pingDatabase() });
  });

  const reload = () => reloadTls(app.server as unknown as import('node:tls').Server, config, app.log);
  return { app, config, connections, store, accounts, hub, limits, reloadTls: reload };
}
