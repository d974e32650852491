// buildApp(config): the whole service as one Fastify instance, in layers: framework plugins, then
// the shared connections and the service's parts (frame store, accounts, hub), then routes. This is
// the composition root: every part gets what it needs from here. main.ts only starts it; tests
// build it the same way and listen on a random port.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
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
import { streamRemovalRoute } from './ingest/stream-removal.js';
import { MAX_NAME_LENGTH } from './ingest/validate.js';
import { observabilityRoutes, Metrics } from './observability/routes.js';
import { readableLogStream } from './observability/log-format.js';
import { registerOpenApi } from './docs/openapi.js';
import { asyncapiRoute } from './docs/asyncapi.js';
import { requireAuth } from './auth/guard.js';

export interface Service {
  app: FastifyInstance;
  config: Config;
  connections: Connections;
  store: FrameStore;
  accounts: Accounts;
  hub: Hub;
  /** URLs of the WebSocket routes, as registered (the AsyncAPI document's test checks it against them). */
  socketRoutes: readonly string[];
}

export interface BuildOptions {
  /** false: no logging (tests). */
  logger?: false;
  /** Where log lines go (default stdout). */
  logStream?: NodeJS.WritableStream;
  /** PostgreSQL schema for the accounts tables (tests give each file its own). */
  dbSchema?: string;
}

/** Readable lines when asked, or by default when a person is reading (stdout is a terminal). */
function readableLogs(config: Config): boolean {
  return config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY === true);
}

/** A request id from a proxy's X-Request-Id is kept when it looks like one (else a new one is made). */
const REQUEST_ID = /^[\w.:@+=-]{1,128}$/;

export function requestId(req: { headers: Record<string, string | string[] | undefined> }): string {
  const h = req.headers['x-request-id'];
  return typeof h === 'string' && REQUEST_ID.test(h) ? h : randomUUID();
}

/** Never log a token: sockets may carry it as ?token=. */
export function redactToken(url: string): string {
  return url.replace(/([?&]token=)[^&]*/gi, '$1[redacted]');
}

export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<Service> {
  const app = Fastify({
    logger: opts.logger ?? {
      level: config.logLevel,
      ...(opts.logStream ? { stream: opts.logStream } : readableLogs(config) ? { stream: readableLogStream(process.stdout) } : {}),
      serializers: {
        req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: redactToken(req.url), ip: req.ip }),
      },
    },
    trustProxy: config.trustProxy,
    // Labels and keys of up to MAX_NAME_LENGTH characters appear in paths percent-encoded: up to 12
    // bytes a character (Fastify's default, 100, refused longer ones with 414).
    maxParamLength: MAX_NAME_LENGTH * 12,
    // Every log line of a request carries its id (reqId): the proxy's X-Request-Id, or a new one.
    requestIdHeader: false,
    genReqId: requestId,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });

  // --- framework plugins
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
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
  await registerOpenApi(app);
  const socketRoutes: string[] = [];
  app.addHook('onRoute', (route) => {
    if (route.wsHandler && route.method === 'GET') socketRoutes.push(route.url);
  });

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
    previews: { concurrency: config.previewConcurrency, quality: config.previewQuality },
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
    });
    await ingestRoutes(scope, {
      config,
      store,
      authenticator: accounts.authenticator,
      requireAuth: guard,
      onStored: () => metrics.framesStored.inc(),
    });
    await observabilityRoutes(scope, { store, hub, metrics, pingAccounts: () => connections.pingDatabase() });
    await streamRemovalRoute(scope, { store, requireAuth: guard });
    await asyncapiRoute(scope);
  });

  return { app, config, connections, store, accounts, hub, socketRoutes };
}
