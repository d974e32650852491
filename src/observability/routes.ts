// Liveness, readiness and Prometheus metrics.
import type { FastifyInstance } from 'fastify';
import { Registry, collectDefaultMetrics, Counter, Gauge } from 'prom-client';
import type { FrameStore } from '../frames/store.js';
import type { Hub } from '../streaming/hub.js';
import type { ClientLimits } from '../edge/limits.js';

export interface ObservabilityDeps {
  store: FrameStore;
  hub: Hub;
  /** Resolves when the accounts database (and Redis, when configured) answers. */
  pingAccounts: () => Promise<void>;
}

/** What else the service holds, counted for dashboards and leak checks (all back to zero when idle). */
export interface HeldCounts {
  /** Open sockets whose right to stay open is being watched (auth/access-watch.ts). */
  watchedSockets: () => number;
  limits: ClientLimits;
}

export class Metrics {
  readonly registry = new Registry();
  readonly framesStored = new Counter({ name: 'frames_stored_total', help: 'Frames accepted from producers', registers: [this.registry] });

  constructor(hub: Hub, held: HeldCounts) {
    collectDefaultMetrics({ register: this.registry });
    const counters = hub.counters;
    new Gauge({ name: 'viewers', help: 'Open viewer sockets', registers: [this.registry], collect() { this.set(hub.viewerCount); } });
    new Gauge({ name: 'viewer_messages_sent', help: 'Frame messages written to viewer sockets', registers: [this.registry], collect() { this.set(counters.sent); } });
    new Gauge({ name: 'viewer_frames_skipped', help: 'Stale frames skipped for slow viewers (latest wins)', registers: [this.registry], collect() { this.set(counters.skipped); } });
    new Gauge({
      name: 'viewer_unsent_bytes_max',
      help: 'Largest unsent byte count of any viewer socket (bounded by VIEWER_MAX_BUFFER_BYTES plus one frame per camera)',
      registers: [this.registry],
      collect() {
        let max = 0;
        for (const b of hub.backlogs()) max = Math.max(max, b.bufferedBytes);
        this.set(max);
      },
    });
    new Gauge({ name: 'viewers_closed_too_slow', help: 'Viewers closed with 1013 after stalling', registers: [this.registry], collect() { this.set(counters.stalled); } });
    const previews = hub.previews.counters;
    new Gauge({ name: 'previews_made', help: 'Previews made (frames resized for viewers that asked for rendition=preview)', registers: [this.registry], collect() { this.set(previews.made); } });
    new Gauge({ name: 'previews_skipped', help: 'Frames whose preview was not made because a newer frame of the camera came first (resizing behind)', registers: [this.registry], collect() { this.set(previews.skipped); } });
    new Gauge({ name: 'previews_passed_through', help: 'Frames sent as they are to preview viewers because they could not be decoded', registers: [this.registry], collect() { this.set(previews.passedThrough); } });
    new Gauge({ name: 'previews_in_progress', help: 'Previews being made now (at most PREVIEW_CONCURRENCY)', registers: [this.registry], collect() { this.set(hub.previews.inProgress); } });

    const { limits } = held;
    const gauge = (name: string, help: string, value: () => number) =>
      new Gauge({ name, help, registers: [this.registry], collect() { this.set(value()); } });
    gauge('hub_channels', 'Labels with a channel in the fan-out hub (one store subscription each)', () => hub.channelCount);
    gauge('hub_pull_waiters', 'Pull viewers waiting for a frame', () => hub.pullWaiterCount);
    gauge('watched_sockets', 'Open sockets whose session and rights are being watched', held.watchedSockets);
    gauge('client_connections', 'Open TCP connections (HTTP and WebSocket)', () => limits.connections.total);
    gauge('client_addresses', 'Client addresses with an open connection', () => limits.connections.keys);
    gauge('client_connections_refused', 'Connections closed at accept: their address held MAX_CONNECTIONS_PER_ADDRESS', () => limits.refusedConnections);
    gauge('user_sockets', 'Open WebSockets counted against MAX_SOCKETS_PER_USER', () => limits.sockets.total);
    gauge('user_requests_in_flight', 'HTTP requests in flight counted against MAX_REQUESTS_PER_USER', () => limits.requests.total);
    new Gauge({
      name: 'active_resources',
      help: 'Handles and requests keeping the event loop alive, by type (process.getActiveResourcesInfo: Timeout, TCPSocketWrap, ...)',
      labelNames: ['type'],
      registers: [this.registry],
      collect() {
        this.reset();
        const byType = new Map<string, number>();
        for (const t of process.getActiveResourcesInfo()) byType.set(t, (byType.get(t) ?? 0) + 1);
        for (const [type, n] of byType) this.set({ type }, n);
      },
    });
  }
}

/** GET /healthz's and /readyz's reply, a named schema (see docs/openapi.ts). */
export const healthSchema = {
  $id: 'Health',
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    store: { type: 'string', enum: ['ok', 'unavailable'], description: 'Frame store (memory or Redis); readiness only' },
    accounts: { type: 'string', enum: ['ok', 'unavailable'], description: 'Accounts database (and Redis); readiness only' },
  },
  required: ['status'],
} as const;
const health = { $ref: 'Health#' } as const;

export async function observabilityRoutes(app: FastifyInstance, deps: ObservabilityDeps & { metrics: Metrics }): Promise<void> {
  app.get('/healthz', { logLevel: 'warn', schema: { tags: ['operations'], summary: 'Liveness', response: { 200: health } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { logLevel: 'warn', schema: { tags: ['operations'], summary: 'Readiness: frame store and accounts reachable', response: { 200: health, 503: health } } }, async (_req, reply) => {
    const [store, accounts] = await Promise.allSettled([deps.store.ping(), deps.pingAccounts()]);
    const body = {
      status: store.status === 'fulfilled' && accounts.status === 'fulfilled' ? 'ok' : 'unavailable',
      store: store.status === 'fulfilled' ? 'ok' : 'unavailable',
      accounts: accounts.status === 'fulfilled' ? 'ok' : 'unavailable',
    };
    return reply.code(body.status === 'ok' ? 200 : 503).send(body);
  });

  app.get('/metrics', {
    logLevel: 'warn',
    schema: {
      tags: ['operations'],
      summary: 'Prometheus metrics (text exposition format): frames stored, viewers, skipped frames, process',
      produces: ['text/plain'],
      response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  }, async (_req, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
