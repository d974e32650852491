// buildApp(config): the whole service as one Fastify instance, in layers: framework plugins, then
// the shared connections and the service's parts (frame store, accounts, hub), then routes. This is
// the composition root: every part gets what it needs from here. main.ts only starts it; tests
// build it the same way and listen on a random port.
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Config } from './config.js';
import { Close, CloseReason, rateLimited } from './errors.js';
import { errorJson, httpReply } from './error-mapping.js';
import { clientErrorHandler, refuseMissingHost } from './http/client-errors.js';
import { handleUnreadBodies } from './http/unread-body.js';
import { openConnections, type Connections } from './connections.js';
import { createAccounts, type Accounts } from './accounts.js';
import type { FrameStore } from './frames/store.js';
import { openFrameStore } from './frames/open-store.js';
import { Hub } from './streaming/hub.js';
import { tcpTuningAvailable } from './streaming/tcp-tuning.js';
import { streamingRoutes } from './streaming/routes.js';
import { ingestRoutes, metadataAllowance } from './ingest/routes.js';
import { observabilityRoutes, Metrics } from './observability/routes.js';
import { requireAuth } from './auth/guard.js';

export interface Service {
  app: FastifyInstance;
  config: Config;
  connections: Connections;
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

/**
 * Routes called many times a minute (producers post frames, log in, read /me): not logged per
 * request at the default level (server errors still are, and ingest logs each rejected upload).
 */
const QUIET_ROUTES = new Set(['POST /frames', 'POST /login', 'GET /me']);

/** Never log a token: sockets may carry it as ?token=. */
export function redactToken(url: string): string {
  return url.replace(/([?&]token=)[^&]*/gi, '$1[redacted]');
}

export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<Service> {
  // Every error reply, whoever raised it: {detail, code} (and the list of problems when validation found several).
  const sendError = (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const r = httpReply(err);
    if (r.status >= 500) req.log.error({ err }, 'request failed');
    const retryAfter = (err as { retryAfter?: unknown }).retryAfter;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
    else if (r.status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', '60');
    return reply.code(r.status).send(errorJson(r));
  };
  const app = Fastify({
    logger: opts.logger ?? {
      level: config.logLevel,
      ...(opts.logStream ? { stream: opts.logStream } : {}),
      serializers: {
        req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: redactToken(req.url), ip: req.ip }),
      },
    },
    trustProxy: config.trustProxy,
    // Report every problem of a request body, not only the first (bounded when mapped).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true } },
    // Labels and keys are path parameters: a 200-character site name may be 2 KB percent-encoded.
    routerOptions: { maxParamLength: 4096 },
    // Requests refused before routing (a bad URL encoding, Node's parser) get the catalogue's shape too.
    frameworkErrors: (err, req, reply) => {
      // An upgrade request refused before routing never reaches @fastify/websocket, which closes
      // the sockets of the upgrades it answers: close this one once answered, or it stays open.
      if (req.raw.headers.upgrade !== undefined) reply.raw.once('finish', () => req.raw.socket.destroy());
      return sendError(err, req, reply);
    },
    // Bounded: a connection whose request Node could not even parse is not kept for long.
    clientErrorHandler: clientErrorHandler(Math.min(config.lingerMs, 1000)),
  });

  // --- framework plugins
  app.setErrorHandler(sendError);
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
  refuseMissingHost(app);
  handleUnreadBodies(app, { lingerMs: config.lingerMs, lingerMaxBytes: config.lingerMaxBytes, maxLingering: config.maxConcurrentUploads });
  const quiet = config.logLevel === 'info' ? 'warn' : config.logLevel;
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.some((m) => QUIET_ROUTES.has(`${m} ${route.url}`))) route.logLevel = quiet;
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
  }, app.log);
  if (config.viewerTcpNotsentLowat > 0 && !tcpTuningAvailable) {
    app.log.warn('VIEWER_TCP_NOTSENT_LOWAT cannot be applied (native addon not built: run npm ci, or npm run install): ' +
      'slow viewers get frames as old as the kernel buffers hold unless net.ipv4.tcp_notsent_lowat is set (README, Deployment notes)');
  }
  const metrics = new Metrics(hub);

  await app.register(websocket, {
    options: { maxPayload: config.maxFrameBytes + metadataAllowance(config), perMessageDeflate: false },
    // ws has already begun the close handshake for a bad message (1009 too big, 1002, 1007): let it
    // finish so that the client reads the code (the default handler terminates the socket, which
    // a client still sending sees as 1006). Anything else went wrong on our side: 1011.
    errorHandler(err: Error & { code?: string }, socket, req) {
      if (typeof err.code === 'string' && err.code.startsWith('WS_ERR_')) req.log.debug({ code: err.code }, 'socket closed for a bad message');
      else if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') req.log.error({ err }, 'socket handler failed');
      if (socket.readyState === socket.OPEN) socket.close(Close.INTERNAL, CloseReason.INTERNAL);
    },
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
  });

  return { app, config, connections, store, accounts, hub };
}
