// Pushes that keep every process's caches and open sockets right (DESIGN.md §2 "Tokens"): sessions
// that ended, users whose role, sites, name or state changed. In-process events without Redis;
// Redis pub/sub with it, so that every instance hears what one of them (or the CLI) did.
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/connections.js';
import type { Subscriber } from '../redis/pubsub.js';
import type { Logger } from '../lib/log.js';

export type AccountEvent =
  | { type: 'sessions-ended'; sessionIds: string[] }
  | { type: 'users-changed'; userIds: number[] };

export interface EventBus {
  /** Delivers to this process at once, then to the others (best effort: see onResync). */
  publish(e: AccountEvent): Promise<void>;
  subscribe(handler: (e: AccountEvent) => void): void;
  /** Called when pushes may have been missed (the Redis subscription was down): drop caches. */
  onResync(handler: () => void): void;
  close(): Promise<void>;
}

abstract class BaseBus implements EventBus {
  protected readonly handlers: Array<(e: AccountEvent) => void> = [];
  protected readonly resyncs: Array<() => void> = [];
  constructor(protected readonly log: Logger) {}

  subscribe(handler: (e: AccountEvent) => void): void {
    this.handlers.push(handler);
  }

  onResync(handler: () => void): void {
    this.resyncs.push(handler);
  }

  protected deliver(e: AccountEvent): void {
    for (const h of this.handlers) {
      try {
        h(e);
      } catch (err) {
        this.log.warn({ err }, 'account event handler failed');
      }
    }
  }

  abstract publish(e: AccountEvent): Promise<void>;
  abstract close(): Promise<void>;
}

export class LocalEventBus extends BaseBus {
  async publish(e: AccountEvent): Promise<void> {
    this.deliver(e);
  }
  async close(): Promise<void> {}
}

function isEvent(v: unknown): v is AccountEvent {
  const e = v as { type?: unknown; sessionIds?: unknown; userIds?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.type === 'sessions-ended') return Array.isArray(e.sessionIds) && e.sessionIds.every((s) => typeof s === 'string');
  if (e.type === 'users-changed') return Array.isArray(e.userIds) && e.userIds.every((s) => typeof s === 'number');
  return false;
}

export class RedisEventBus extends BaseBus {
  private readonly origin = randomUUID();
  private stop: (() => Promise<void>) | null = null;

  /** `pub` is the shared command client; the process's subscriber carries `channel` (and other parts' channels). */
  private constructor(
    private readonly pub: RedisClient,
    private readonly channel: string,
    log: Logger,
  ) {
    super(log);
  }

  static async start(pub: RedisClient, subscriber: Subscriber, channel: string, log: Logger): Promise<RedisEventBus> {
    const bus = new RedisEventBus(pub, channel, log);
    bus.stop = await subscriber.listen(channel, {
      onMessage: (message) => {
        let parsed: { o?: unknown; e?: unknown };
        try {
          parsed = JSON.parse(message) as { o?: unknown; e?: unknown };
        } catch {
          return;
        }
        if (parsed.o === bus.origin || !isEvent(parsed.e)) return;
        bus.deliver(parsed.e);
      },
      // Messages sent while the subscription was down are lost.
      onResync: () => {
        log.info({}, 'account events: Redis subscriber reconnected, dropping cached sessions and users');
        for (const r of bus.resyncs) r();
      },
    });
    return bus;
  }

  async publish(e: AccountEvent): Promise<void> {
    this.deliver(e);
    try {
      await this.pub.publish(this.channel, JSON.stringify({ o: this.origin, e }));
    } catch (err) {
      // Other instances find out by their periodic recheck and their cache's age limit.
      this.log.warn({ err: (err as Error).message, event: e.type }, 'could not publish an account event');
    }
  }

  async close(): Promise<void> {
    await this.stop?.();
    this.stop = null;
  }
}
