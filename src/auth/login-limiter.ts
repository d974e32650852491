// Failed-login limits (DESIGN.md §3): failures only, counted per username and per client address in
// a fixed window that starts at the first failure. Redis when configured (every instance shares the
// counts), else this process's memory (bounded).
import { redisError, mapped } from '../error-mapping.js';
import { execOk, type RedisClient } from '../redis/connections.js';

export interface LoginLimits {
  /** Failures per username within the window before further attempts get 429. */
  maxPerUser: number;
  /** Failures per client address within the window before further attempts get 429. */
  maxPerIp: number;
  windowMs: number;
}

export interface LoginLimiter {
  /** Seconds until the username or the address may try again; 0 when both may try now. */
  retryAfter(username: string, ip: string): Promise<number>;
  recordFailure(username: string, ip: string): Promise<void>;
  /** A successful login clears the username's failures (not the address's). */
  clearUser(username: string): Promise<void>;
}

// Usernames are bounded by the login schema; keep keys short anyway.
const userKey = (u: string) => `u:${u.slice(0, 256)}`;
const ipKey = (ip: string) => `ip:${ip}`;

export class MemoryLoginLimiter implements LoginLimiter {
  private readonly counts = new Map<string, { n: number; resetAt: number }>();

  constructor(
    private readonly limits: LoginLimits,
    private readonly maxKeys = 100_000,
  ) {}

  private read(key: string, now: number): { n: number; resetAt: number } | undefined {
    const c = this.counts.get(key);
    if (c && c.resetAt <= now) {
      this.counts.delete(key);
      return undefined;
    }
    return c;
  }

  async retryAfter(username: string, ip: string): Promise<number> {
    const now = Date.now();
    let wait = 0;
    for (const [key, max] of [[userKey(username), this.limits.maxPerUser], [ipKey(ip), this.limits.maxPerIp]] as const) {
      const c = this.read(key, now);
      if (c && c.n >= max) wait = Math.max(wait, Math.ceil((c.resetAt - now) / 1000));
    }
    return wait;
  }

  async recordFailure(username: string, ip: string): Promise<void> {
    const now = Date.now();
    for (const key of [userKey(username), ipKey(ip)]) {
      const c = this.read(key, now);
      if (c) c.n++;
      else this.counts.set(key, { n: 1, resetAt: now + this.limits.windowMs });
    }
    if (this.counts.size > this.maxKeys) {
      // Forget expired windows first, then the oldest (insertion order = window start order).
      for (const [k, c] of this.counts) if (c.resetAt <= now) this.counts.delete(k);
      for (const k of this.counts.keys()) {
        if (this.counts.size <= this.maxKeys) break;
        this.counts.delete(k);
      }
    }
  }

  async clearUser(username: string): Promise<void> {
    this.counts.delete(userKey(username));
  }
}

/**
 * Keys `<prefix>login-fail:u:<username>` and `<prefix>login-fail:ip:<address>`. Each command names
 * one key (on a Redis Cluster the two keys live in different slots, where a pipeline or MULTI
 * spanning them is refused); the client's auto-pipelining still sends them in one round trip.
 */
export class RedisLoginLimiter implements LoginLimiter {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly limits: LoginLimits,
  ) {}

  private k(key: string): string {
    return `${this.prefix}login-fail:${key}`;
  }

  retryAfter(username: string, ip: string): Promise<number> {
    return mapped(redisError, async () => {
      const keys = [this.k(userKey(username)), this.k(ipKey(ip))];
      const r = await Promise.all(keys.flatMap((key) => [this.redis.get(key), this.redis.pttl(key)]));
      let wait = 0;
      const maxes = [this.limits.maxPerUser, this.limits.maxPerIp];
      for (let i = 0; i < 2; i++) {
        const n = Number(r[2 * i] ?? 0);
        const ttl = Number(r[2 * i + 1]);
        if (n >= maxes[i]) wait = Math.max(wait, ttl > 0 ? Math.ceil(ttl / 1000) : Math.ceil(this.limits.windowMs / 1000));
      }
      return wait;
    });
  }

  recordFailure(username: string, ip: string): Promise<void> {
    return mapped(redisError, async () => {
      await Promise.all(
        [this.k(userKey(username)), this.k(ipKey(ip))].map((key) =>
          // The window starts with the first failure: SET NX PX creates it, INCR keeps its TTL.
          // One key per MULTI, so that a window never lacks its expiry.
          execOk(this.redis.multi().set(key, '0', 'PX', this.limits.windowMs, 'NX').incr(key)),
        ),
      );
    });
  }

  clearUser(username: string): Promise<void> {
    return mapped(redisError, async () => {
      await this.redis.del(this.k(userKey(username)));
    });
  }
}
