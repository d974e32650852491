// Liveness, readiness and Prometheus metrics.
import type { FastifyInstance } from 'fastify';
import { Registry, collectDefaultMetrics, Counter, Gauge } from 'prom-client';
import type { FrameStore } from '../frames/store.js';
import type { Hub } from '../streaming/hub.js';

export interface ObservabilityDeps {
  store: FrameStore;
  hub: Hub;
  /** Resolves when the accounts database (and Redis, when configured) answers. */
  pingAccounts: () => Promise<void>;
}

export class Metrics {
  readonly registry = new Registry();
  readonly framesStored = new Counter({ name: 'frames_stored_total', help: 'Frames accepted from producers', registers: [this.registry] });

  constructor(hub: Hub) {
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
