// The safety events, assembled over the shared connections: the recorder the upload path hands
// its frames to, the repository, the live feed (with Redis, across instances), webhooks and their
// dispatcher, the retention sweeper, and the HTTP API. Built once by the composition root (app.ts).
import type { FastifyPluginAsync } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { Connections } from '../connections.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { Logger } from '../lib/log.js';
import { ChangeFeed, type FeedRelay } from './feed.js';
import { eventView } from './model.js';
import { EventRecorder } from './recorder.js';
import { EventsRepository } from './repository.js';
import { RetentionSweeper } from './retention.js';
import { eventRoutes } from './routes.js';
import { WebhookDispatcher } from './webhook-dispatcher.js';
import { WebhookRepository } from './webhook-repository.js';
import { webhookRoutes } from './webhook-routes.js';

export interface SafetyEvents {
  recorder: EventRecorder;
  repo: EventsRepository;
  feed: ChangeFeed;
  webhooks: WebhookRepository;
  dispatcher: WebhookDispatcher;
  retention: RetentionSweeper;
  /** The HTTP API (/events, /webhooks): register it with app.register. */
  routes: FastifyPluginAsync;
  registerMetrics(registry: Registry): void;
  /** Writes what is pending and stops (the connections are closed by their owner). */
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;

export async function createSafetyEvents(config: Config, conns: Connections, deps: { authenticator: Authenticator; log: Logger }): Promise<SafetyEvents> {
  const { log } = deps;
  const db = conns.database.db;
  const quietMs = config.eventQuietMs;
  const repo = new EventsRepository(db, quietMs);
  let relay: FeedRelay | null = null;
  if (conns.redis) {
    relay = { pub: conns.redis.client, sub: conns.redis.subscriber(), channel: `${config.redisPrefix}events:changes` };
  }
  const feed = await ChangeFeed.start(repo, relay, log);
  const webhooks = new WebhookRepository(db);
  const dispatcher = new WebhookDispatcher(
    webhooks,
    async (id) => {
      const row = await repo.get(id);
      return row ? eventView(row, quietMs) : null;
    },
    { timeoutMs: config.webhookTimeoutMs, concurrency: config.webhookConcurrency, backoffMs: config.webhookBackoffMs, retryForMs: config.webhookRetryForMs },
    log,
  );
  const recorder = new EventRecorder(
    repo,
    {
      quietMs,
      flushMs: config.eventFlushMs,
      maxRuns: config.eventQueueMax,
      snapshotMaxBytes: config.eventSnapshotMaxBytes,
      onWritten: ({ changes, deliveries }) => {
        if (changes.length > 0) feed.written(Math.max(...changes.map((c) => c.seq)));
        if (deliveries > 0) dispatcher.wake();
      },
    },
    log,
  );
  const retention = new RetentionSweeper(repo, config.eventRetentionDays * DAY_MS, config.eventRetentionSweepMs, log);
  dispatcher.start();
  retention.start();

  const routes: FastifyPluginAsync = async (app) => {
    await app.register(eventRoutes({ repo, feed, retention, authenticator: deps.authenticator, quietMs, maxStreams: config.eventStreamMaxClients }));
    await app.register(webhookRoutes(webhooks, dispatcher, deps.authenticator));
  };

  let closed: Promise<void> | null = null;
  return {
    recorder,
    repo,
    feed,
    webhooks,
    dispatcher,
    retention,
    routes,
    registerMetrics(registry) {
      const gauge = (name: string, help: string, value: () => number) =>
        new Gauge({ name, help, registers: [registry], collect() { this.set(value()); } });
      const r = recorder.counters;
      gauge('events_frames_recorded', 'Stored frames with warnings taken by the safety event recorder', () => r.framesWithWarnings);
      gauge('events_frames_dropped', 'Frames whose warnings were dropped because EVENT_QUEUE_MAX runs were waiting', () => recorder.droppedFrames);
      gauge('events_queue_runs', 'Warning runs waiting to be written', () => recorder.queued);
      gauge('events_snapshots_skipped', 'Snapshots not kept because 64 MiB of images were waiting to be written', () => recorder.snapshotsSkipped);
      gauge('events_created', 'Safety events created by this process', () => r.created);
      gauge('events_extended', 'Writes that extended an open safety event', () => r.extended);
      gauge('events_write_failures', 'Failed batch writes of the recorder (retried)', () => r.writeFailures);
      gauge('events_stream_clients', 'Open live event streams', () => feed.size);
      gauge('events_deleted_by_retention', 'Events deleted past the retention period by this process', () => retention.deleted);
      const d = dispatcher.counters;
      gauge('webhook_deliveries_delivered', 'Webhook deliveries answered 2xx', () => d.delivered);
      gauge('webhook_deliveries_retried', 'Webhook attempts that failed and will be retried', () => d.retried);
      gauge('webhook_deliveries_failed', 'Webhook deliveries given up (WEBHOOK_RETRY_FOR_MS passed)', () => d.failed);
    },
    close() {
      closed ??= (async () => {
        await recorder.close();
        await Promise.allSettled([dispatcher.close(), retention.close(), feed.close()]);
      })();
      return closed;
    },
  };
}
