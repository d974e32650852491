// The process's one Redis pub/sub subscriber, shared by the parts that listen (account events,
// stream announcements), each on a channel of its own. It keeps itself subscribed: when its
// connection is lost it opens another (on a Redis Cluster, possibly to another node: PUBLISH
// reaches every node) and subscribes again; messages published meanwhile are lost, so each
// listener is told to resynchronise.
import type { Redis } from 'ioredis';
import type { Logger } from '../lib/log.js';

export interface ChannelListener {
  onMessage(message: string): void;
  /** The subscription was down and is back: messages may have been missed. */
  onResync?(): void;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

export class Subscriber {
  private conn: Redis | null = null;
  private connecting: Promise<Redis> | null = null;
  private readonly channels = new Map<string, ChannelListener>();
  private closed = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;

  /** `open` makes a ready connection that does not reconnect by itself. */
  constructor(
    private readonly open: () => Promise<Redis>,
    private readonly log: Logger,
  ) {}

  /** Subscribes `listener` to `channel`; resolves once Redis confirmed, with the way to stop. */
  async listen(channel: string, listener: ChannelListener): Promise<() => Promise<void>> {
    if (this.closed) throw new Error('subscriber closed');
    if (this.channels.has(channel)) throw new Error(`already listening to ${channel}`);
    this.channels.set(channel, listener);
    try {
      const conn = await this.connection();
      await conn.subscribe(channel);
    } catch (err) {
      this.channels.delete(channel);
      throw err;
    }
    return async () => {
      if (this.channels.get(channel) !== listener) return;
      this.channels.delete(channel);
      await this.conn?.unsubscribe(channel).catch(() => {});
    };
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.channels.clear();
    this.conn?.disconnect();
    this.conn = null;
  }

  private connection(): Promise<Redis> {
    if (this.conn) return Promise.resolve(this.conn);
    this.connecting ??= this.open()
      .then((conn) => {
        if (this.closed) {
          conn.disconnect();
          throw new Error('subscriber closed');
        }
        this.attach(conn);
        return conn;
      })
      .finally(() => {
        this.connecting = null;
      });
    return this.connecting;
  }

  private attach(conn: Redis): void {
    this.conn = conn;
    conn.on('message', (channel: string, message: string) => {
      const l = this.channels.get(channel);
      if (!l) return;
      try {
        l.onMessage(message);
      } catch (err) {
        this.log.warn({ err, channel }, 'Redis subscriber: a listener failed');
      }
    });
    conn.once('end', () => {
      if (this.conn === conn) this.conn = null;
      if (!this.closed) this.reconnectLater();
    });
  }

  private reconnectLater(): void {
    if (this.retryTimer) return;
    const delay = Math.min(RETRY_MIN_MS * 2 ** this.failures, RETRY_MAX_MS);
    this.failures++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.resubscribe();
    }, delay);
    this.retryTimer.unref();
  }

  private async resubscribe(): Promise<void> {
    let conn: Redis;
    try {
      conn = await this.connection();
    } catch {
      if (!this.closed) this.reconnectLater();
      return;
    }
    try {
      if (this.channels.size > 0) await conn.subscribe(...this.channels.keys());
    } catch {
      conn.disconnect(); // its end schedules the next attempt
      return;
    }
    this.failures = 0;
    this.log.info({ channels: this.channels.size }, 'Redis subscriber: subscribed again');
    for (const l of this.channels.values()) {
      try {
        l.onResync?.();
      } catch (err) {
        this.log.warn({ err }, 'Redis subscriber: a listener failed to resynchronise');
      }
    }
  }
}
