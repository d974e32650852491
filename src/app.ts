// buildApp(config): the whole service as one Fastify instance, in layers: framework plugins, then
// the shared connections and the service's parts (frame store, accounts, hub), then routes. This is
// the composition root: every part gets what it needs from here. main.ts only starts it; tests
// build it the same way and listen on a random port.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Config } from './config.js';
import { Close, CloseReason, rateLimited } from './errors.js';
import { httpReply } from './error-mapping.js';
import { openConnections, type Connections } from './connections.js';
import { createAccounts, type Accounts } from './accounts.js';
import { createSafetyEvents, type SafetyEvents } from './events/safety-events.js';
import type { FrameStore } from './frames/store.js';
import { openFrameStore } from './frames/open-store.js';
import { Hub } from './streaming/hub.js';
import { tcpTuningAvailable } from './streaming/tcp-tuning.js';
import { streamingRoutes } from './streaming/routes.js';
import { ingestRoutes, METADATA_ALLOWANCE } from './ingest/routes.js';
import { observabilityRoutes, Metrics } from './observability/routes.js';
import { requireAuth } from './auth/guard.js';

export interface Service {
  app: FastifyInstance;
  config: Config;
  connections: Connections;
  store: FrameStore;
  accounts: Accounts;
  events: SafetyEvents;
  hub: Hub;
}

export interface BuildOptions {
  /** false: no logging (tests). */
  logger?: false;
  /** Where log lines go (default stdout). */
  logStream?: NodeJS.WritableStream;
  /** PostgreSQL schema for the accounts tables (tests give each file its own). */
  dbSchema?: string;
}

/** Never log a token: sockets may carry it as ?token=. */
export function redactToken(url: string): string {
  return url.replace(/([?&]token=)[^&]*/gi, '$1[redacted]');
}

export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<Service> {
  const app = Fastify({
    logger: opts.logger ?? {
      level: config.logLevel,
      ...(opts.logStream ? { stream: opts.logStream } : {}),
      serializers: {
        req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: redactToken(req.url), ip: req.ip }),
      },
    },
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
  if (config.corsOrigins.length > 0) {
    await app.register(cors, { origin: config.corsOrigins.includes('*') ? true : config.corsOrigins, credentials: false });
  }
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
  let events: SafetyEvents | null = null;
  try {
    store = await openFrameStore(config, connections, app.log);
    accounts = await createAccounts(config, connections, { log: app.log });
    events = await createSafetyEvents(config, connections, { authenticator: accounts.authenticator, log: app.log });
  } catch (err) {
    await Promise.allSettled([store?.close(), accounts?.close(), events?.close()]);
    await connections.close();
    throw err;
  }
  app.addHook('onClose', async () => {
    await Promise.allSettled([store!.close(), accounts!.close(), events!.close()]);
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
  const metrics = new Metrics(hub);
  events.registerMetrics(metrics.registry);

  await app.register(websocket, {
    options: { maxPayload: config.maxFrameBytes + METADATA_ALLOWANCE, perMessageDeflate: false },
    // Shutdown: viewers and producers are told 1001 and may reconnect to another instance.
    preClose(done) {
      hub.close();
      for (const client of app.websocketServer.clients) client.close(Close.GOING_AWAY, CloseReason.SHUTDOWN);
      app.websocketServer.close(); // no new upgrades on connections still open
      done();
    },
  });

  // --- routes
  const guard = requireAuth(accounts.authenticator);
  await app.register(accounts.routes);
  await app.register(events.routes);
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
      onStored: (frame) => {
        metrics.framesStored.inc();
        events.recorder.record(frame);
      },
    });
    await observabilityRoutes(scope, { store, hub, metrics, pingAccounts: () => connections.pingDatabase() });
  });

  return { app, config, connections, store, accounts, events, hub };
}
