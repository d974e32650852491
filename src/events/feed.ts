// The live feed of event changes in this process: it follows the events table by change number (one
// query per wake-up for the whole process, however many clients listen) and hands each client the
// changed events of its sites. It wakes when this process wrote events and, with Redis, when
// another instance did (pub/sub, on the process's one subscriber); a slow poll is the fallback for news
// that could not come (no Redis, or a lost subscription). The database, not the message, is the
// record: a lost message only delays a change until the next wake-up or poll.
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/connections.js';
import type { Subscriber } from '../redis/pubsub.js';
import { Coalesced } from '../lib/coalesced.js';
import type { Logger } from '../lib/log.js';
import type { EventRow } from './model.js';
import type { EventsRepository } from './repository.js';

export interface FeedClient {
  /** Sites this client sees; null = every site. */
  readonly sites: ReadonlySet<string> | null;
  /** Changed events of its sites, in change order. */
  deliver(rows: EventRow[]): void;
}

export interface FeedRelay {
  /** The shared command connection (publish) and the process's subscriber. */
  pub: RedisClient;
  sub: Subscriber;
  channel: string;
}

const PAGE = 500;
const POLL_WITH_REDIS_MS = 30_000;
const POLL_WITHOUT_REDIS_MS = 2000;

export class ChangeFeed {
  private readonly clients = new Set<FeedClient>();
  private position = 0;
  private readonly puller = new Coalesced(() => this.pull());
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private failing = false;
  private readonly origin = randomUUID();
  private unsubscribe: (() => Promise<void>) | null = null;

  private constructor(
    private readonly repo: EventsRepository,
    private readonly relay: FeedRelay | null,
    private readonly log: Logger,
  ) {}

  static async start(repo: EventsRepository, relay: FeedRelay | null, log: Logger): Promise<ChangeFeed> {
    const feed = new ChangeFeed(repo, relay, log);
    feed.position = await repo.lastChange();
    if (relay) {
      feed.unsubscribe = await relay.sub.listen(relay.channel, {
        onMessage: (msg) => {
          if (!msg.startsWith(`${feed.origin} `)) feed.wake();
        },
        // Messages sent while the subscription was down are lost: catch up from the database.
        onResync: () => feed.wake(),
      });
    }
    const every = relay ? POLL_WITH_REDIS_MS : POLL_WITHOUT_REDIS_MS;
    feed.timer = setInterval(() => {
      if (feed.clients.size > 0) feed.wake();
    }, every);
    feed.timer.unref();
    return feed;
  }

  get size(): number {
    return this.clients.size;
  }

  add(c: FeedClient): void {
    this.clients.add(c);
  }

  remove(c: FeedClient): void {
    this.clients.delete(c);
  }

  /** This process wrote changes up to `seq`: deliver them here, and tell the other instances. */
  written(seq: number): void {
    this.wake();
    if (this.relay) {
      this.relay.pub.publish(this.relay.channel, `${this.origin} ${seq}`).catch((err: Error) => {
        this.log.debug({ err: err.message }, 'events feed: could not publish a change (the others poll)');
      });
    }
  }

  /** Reads and delivers what changed since the last read (coalesced: one read at a time). */
  wake(): void {
    if (!this.closed) this.puller.run();
  }

  private async pull(): Promise<void> {
    try {
      if (this.clients.size === 0) {
        // Nobody listens: only keep the place (a client joining catches up by itself).
        this.position = Math.max(this.position, await this.repo.lastChange());
        return;
      }
      for (;;) {
        const rows = await this.repo.changesSince(this.position, PAGE);
        if (rows.length === 0) break;
        this.position = Number(rows[rows.length - 1]!.change_seq);
        for (const c of this.clients) {
          const mine = c.sites === null ? rows : rows.filter((r) => c.sites!.has(r.site));
          if (mine.length > 0) c.deliver(mine);
        }
        if (rows.length < PAGE) break;
      }
      if (this.failing) this.log.info({}, 'events feed: reading again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.log.warn({ err: (err as Error).message }, 'events feed: could not read changes; will retry');
      this.failing = true;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.clients.clear();
    await this.puller.idle();
    await this.unsubscribe?.();
  }
}
