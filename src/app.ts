// buildApp(config): the whole service as one Fastify instance, in layers: framework plugins, then
// the shared connections and the service's parts (frame store, accounts, hub), then routes. This is
// the composition root: every part gets what it needs from here. main.ts only starts it; tests
// build it the same way and listen on a random port.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import rateLimit from '@fastify/rate-limit';
import type { Config } from './config.js';
import { Close, CloseReason, rateLimited } from './errors.js';
import { errorJson, httpReply } from './error-mapping.js';
import { clientErrorHandler, refuseMissingHost } from './edge/client-errors.js';
import { handleUnreadBodies } from './edge/unread-body.js';
import { openConnections, type Connections } from './connections.js';
import { createAccounts, type Accounts } from './accounts.js';
import { createSafetyEvents, type SafetyEvents } from './events/safety-events.js';
import type { FrameStore } from './frames/store.js';
import { openFrameStore } from './frames/open-store.js';
import { Hub } from './streaming/hub.js';
import { tcpTuningAvailable } from './streaming/tcp-tuning.js';
import { streamingRoutes } from './streaming/routes.js';
import { ingestRoutes, metadataAllowance } from './ingest/routes.js';
import { streamRemovalRoute } from './ingest/stream-removal.js';
import { ProducerSockets } from './ingest/producer-sockets.js';
import { observabilityRoutes, Metrics } from './observability/routes.js';
import { readableLogStream } from './observability/log-format.js';
import { registerOpenApi } from './docs/openapi.js';
import { asyncapiRoute } from './docs/asyncapi.js';
import { requireAuth } from './auth/guard.js';
import { ClientLimits } from './edge/limits.js';
import { createServer } from './edge/server.js';
import { registerBrowserSecurity } from './edge/browser-security.js';
import { readTls, reloadTls, warnIfExpiring } from './edge/tls.js';
import { viewerRoutes } from './web/serve.js';

export interface Service {
  app: FastifyInstance;
  config: Config;
  connections: Connections;
  store: FrameStore;
  accounts: Accounts;
  events: SafetyEvents;
  hub: Hub;
  /** What each client address and user holds (connections, sockets, requests). */
  limits: ClientLimits;
  /** Reads TLS_CERT/TLS_KEY again for new connections (SIGHUP); false when not reloaded. */
  reloadTls(): boolean;
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

/**
 * Routes called many times a minute (producers post frames, log in, read /me): not logged per
 * request at the default level (server errors still are, and ingest logs each rejected upload).
 */
const QUIET_ROUTES = new Set(['POST /frames', 'POST /login', 'GET /me']);

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
      ...(opts.logStream ? { stream: opts.logStream } : readableLogs(config) ? { stream: readableLogStream(process.stdout) } : {}),
      serializers: {
        req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: redactToken(req.url), ip: req.ip }),
      },
      redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
    },
    serverFactory: (handler) => createServer(config, tlsFiles, limits, handler),
    trustProxy: config.trustProxy,
    // Every log line of a request carries its id (reqId): the proxy's X-Request-Id, or a new one.
    requestIdHeader: false,
    genReqId: requestId,
    // Report every problem of a request body, not only the first (bounded when mapped).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true } },
    // Labels and keys are path parameters: a 256-character key may be 3 KB percent-encoded.
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
  // Hooks that run for every request are in callback style: an async one costs a promise per request.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
  app.setErrorHandler(sendError);
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ detail: 'Not Found', code: 'NOT_FOUND' }));
  if (tlsFiles) warnIfExpiring(tlsFiles, app.log);
  await registerBrowserSecurity(app, config);
  await registerOpenApi(app);
  refuseMissingHost(app);
  handleUnreadBodies(app, { lingerMs: config.lingerMs, lingerMaxBytes: config.lingerMaxBytes, maxLingering: config.maxConcurrentUploads });
  const quiet = config.logLevel === 'info' ? 'warn' : config.logLevel;
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.some((m) => QUIET_ROUTES.has(`${m} ${route.url}`))) route.logLevel = quiet;
  });
  const socketRoutes: string[] = [];
  app.addHook('onRoute', (route) => {
    if (route.wsHandler && route.method === 'GET') socketRoutes.push(route.url);
  });

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
    previews: { concurrency: config.previewConcurrency, quality: config.previewQuality },
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
  const producers = new ProducerSockets();
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (shuttingDown) reply.header('connection', 'close');
    done(null, payload);
  });
  events.registerMetrics(metrics.registry);

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
      shuttingDown = true;
      setInterval(() => app.server.closeIdleConnections(), 100).unref();
      hub.close();
      for (const client of app.websocketServer.clients) {
        if (!producers.end(client, Close.GOING_AWAY, CloseReason.SHUTDOWN)) client.close(Close.GOING_AWAY, CloseReason.SHUTDOWN);
      }
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
      producers,
      onStored: (frame) => {
        metrics.framesStored.inc();
        events.recorder.record(frame);
      },
    });
    await observabilityRoutes(scope, { store, hub, metrics, pingAccounts: () => connections.pingDatabase() });
    await streamRemovalRoute(scope, { store, requireAuth: guard });
    await asyncapiRoute(scope);
  });
  // The browser viewer at / (its own routes are hash routes: no path of the API is shadowed).
  await viewerRoutes(app, app.log);

  const reload = () => reloadTls(app.server as unknown as import('node:tls').Server, config, app.log);
  return { app, config, connections, store, accounts, events, hub, socketRoutes, limits, reloadTls: reload };
}
