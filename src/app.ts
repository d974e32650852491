// buildApp(config): the whole service as one Fastify instance, in layers: framework plugins, then
// the service's parts (frame store, accounts, hub), then routes. main.ts only starts it; tests
// build it the same way and listen on a random port.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Config } from './config.js';
import { Close, CloseReason, Errors } from './errors.js';
import type { FrameStore } from './frames/store.js';
import { openFrameStore } from './frames/open-store.js';
import { Hub } from './streaming/hub.js';
import { tcpTuningAvailable } from './streaming/tcp-tuning.js';
import { streamingRoutes } from './streaming/routes.js';
import { ingestRoutes, METADATA_ALLOWANCE } from './ingest/routes.js';
import { observabilityRoutes, Metrics } from './observability/routes.js';
import { createAccounts, type Accounts } from './auth/accounts.js';
import { requireAuth } from './auth/guard.js';
import { labelsRateLimit, rateLimitPluginOptions } from './auth/rate-limits.js';
import { viewerRoutes } from './web/serve.js';

export interface Service {
  app: FastifyInstance;
  config: Config;
  store: FrameStore;
  accounts: Accounts;
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

/** Turns any error into the catalogue's JSON shape {detail, code} with its status. */
function errorReply(err: FastifyError): { status: number; code: string; detail: string } {
  const status = err.statusCode ?? 500;
  if (err.code && err.code in Errors && status < 500) return { status, code: err.code, detail: err.message };
  if (err.validation) return { status: 422, code: 'VALIDATION', detail: err.message };
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, code: 'PAYLOAD_TOO_LARGE', detail: 'request body is too large' };
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', detail: err.message };
  if (status === 429) return { status, code: 'RATE_LIMITED', detail: err.message };
  if (status === 503) return { status, code: err.code && err.code in Errors ? err.code : 'STORE_UNAVAILABLE', detail: err.message };
  if (status >= 400 && status < 500) return { status, code: 'BAD_REQUEST', detail: err.message };
  return { status: 500, code: 'INTERNAL', detail: 'Internal server error' };
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
    const r = errorReply(err);
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

  // --- the service's parts
  const store = await openFrameStore(config, app.log);
  const accounts = await createAccounts(config, { log: app.log, schema: opts.dbSchema }).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  // Rate-limit counters live in Redis when configured, so every instance shares them.
  await app.register(rateLimit, rateLimitPluginOptions(config, accounts.redis));
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
  await app.register(async (scope) => {
    await streamingRoutes(scope, {
      config,
      store,
      hub,
      authenticator: accounts.authenticator,
      requireAuth: guard,
      labelsRateLimit: labelsRateLimit(config),
    });
    await ingestRoutes(scope, {
      config,
      store,
      authenticator: accounts.authenticator,
      requireAuth: guard,
      onStored: () => metrics.framesStored.inc(),
    });
    await observabilityRoutes(scope, { store, hub, metrics, pingAccounts: () => accounts.ping() });
  });
  // The browser viewer at / (its own routes are hash routes: no path of the API is shadowed).
  await viewerRoutes(app, app.log);

  app.addHook('onClose', async () => {
    await Promise.allSettled([store.close(), accounts.close()]);
  });
  return { app, config, store, accounts, hub };
}
