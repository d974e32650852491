// How instances of this service learn at once of the streams another one writes (DESIGN.md §3:
// a load balancer may send a viewer anywhere). The writer of a stream that is new to it (or that
// it knew as idle):
//   1. adds the stream to a short-lived set of its label, <REDIS_PREFIX>label-streams:<b64 label>,
//   2. publishes it on <REDIS_PREFIX>frames:streams,
// before its upload is answered. Every instance adds a published stream to its index at once
// (listed by GET /labels, read by viewers of the label); one asked for a label that it does not
// know reads that label's set (one SMEMBERS, bounded by the label's cameras) before answering
// "No keys found", so a viewer sent to it just after the upload finds the camera even when the
// message is still on its way. The set only has to bridge the moments before every instance's
// index has the stream: it expires a while after its last addition. Streams of other writers
// (the old backend) are not announced: the index's background SCAN finds them. A stream removed
// through this service (DELETE /streams) is retracted the same way: out of the set, and published.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../lib/log.js';
import type { RedisConnections } from '../redis/connections.js';
import { b64, parseStreamKey } from './keys.js';

export interface Announced {
  label: string;
  key: string;
  redisKey: string;
  /** The entry the writer had just added. */
  id: string;
}

export interface StreamAnnouncementsOptions {
  redis: RedisConnections;
  /** REDIS_PREFIX: the set and the channel are the service's own keys. */
  prefix: string;
  /** How long a label's set lives after its last addition. */
  ttlMs: number;
  /** Another instance announced a stream. */
  onAnnounced: (a: Announced) => void;
  /** Another instance removed a stream (DELETE /streams). */
  onRetracted: (label: string, key: string) => void;
  /** Announcements may have been missed (the subscription was down). */
  onResync: () => void;
  log: Logger;
}

const ID = /^\d{1,20}-\d{1,20}$/;
/** Larger messages are not announcements (stream keys are bounded by the upload limits). */
const MAX_MESSAGE_BYTES = 64 * 1024;

export class StreamAnnouncements {
  private readonly origin = randomUUID();
  private readonly channel: string;
  private stop: (() => Promise<void>) | null = null;

  private constructor(private readonly o: StreamAnnouncementsOptions) {
    this.channel = `${o.prefix}frames:streams`;
  }

  /** Subscribes; rejects when Redis does not answer. */
  static async start(o: StreamAnnouncementsOptions): Promise<StreamAnnouncements> {
    const a = new StreamAnnouncements(o);
    a.stop = await o.redis.subscriber().listen(a.channel, {
      onMessage: (message) => a.receive(message),
      onResync: () => o.onResync(),
    });
    return a;
  }

  private setKey(label: string): string {
    return `${this.o.prefix}label-streams:${b64(label)}`;
  }

  /** Tells the other instances of a stream this one wrote `id` to; throws when Redis fails. */
  async announce(label: string, redisKey: string, id: string): Promise<void> {
    const cmd = this.o.redis.client;
    const set = this.setKey(label);
    // Separate commands, not one MULTI: the set and the channel need not share a slot.
    await Promise.all([
      cmd.sadd(set, redisKey),
      cmd.pexpire(set, this.o.ttlMs),
      cmd.publish(this.channel, JSON.stringify({ o: this.origin, s: redisKey, id })),
    ]);
  }

  /** Tells the other instances that a stream was removed; throws when Redis fails. */
  async retract(label: string, redisKey: string): Promise<void> {
    const cmd = this.o.redis.client;
    await Promise.all([
      cmd.srem(this.setKey(label), redisKey),
      cmd.publish(this.channel, JSON.stringify({ o: this.origin, s: redisKey, removed: true })),
    ]);
  }

  /** The streams of `label` announced lately (their stream keys). */
  async recent(label: string): Promise<string[]> {
    const members = await this.o.redis.client.smembers(this.setKey(label));
    return members.filter((k) => parseStreamKey(k)?.label === label);
  }

  async close(): Promise<void> {
    await this.stop?.();
    this.stop = null;
  }

  private receive(message: string): void {
    if (message.length > MAX_MESSAGE_BYTES) return;
    let m: { o?: unknown; s?: unknown; id?: unknown; removed?: unknown };
    try {
      m = JSON.parse(message) as typeof m;
    } catch {
      return;
    }
    if (m.o === this.origin || typeof m.s !== 'string') return;
    const p = parseStreamKey(m.s);
    if (!p) return;
    if (m.removed === true) this.o.onRetracted(p.label, p.key);
    else if (typeof m.id === 'string' && ID.test(m.id)) this.o.onAnnounced({ ...p, redisKey: m.s, id: m.id });
  }
}
