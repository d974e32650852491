// Failed-login limits (DESIGN.md §3): failures only, counted per username and per client address in
// a fixed window that starts at the first failure. In Redis when configured, else in the accounts
// database: either way every process (and the admin CLI) sees the same counts.
import type { Kysely } from 'kysely';
import type { AccountsDb } from '../db/schema.js';
import { inDatabase, redisError, mapped } from '../error-mapping.js';
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
  /** Clears the username's failures (not the address's): a successful login, a new password, an admin's unlock. */
  clearUser(username: string): Promise<void>;
}

// Usernames are bounded by the login schema; keep keys short anyway.
const userKey = (u: string) => `u:${u.slice(0, 256)}`;
const ipKey = (ip: string) => `ip:${ip}`;

/** The most counters kept in the database; past it the oldest windows are forgotten first. */
const MAX_SQL_COUNTERS = 100_000;

/**
 * Counters in the accounts database (`login_failures`) when Redis is not configured: shared by the
 * server's processes and the admin CLI, which can lift a lock (`unlock`), and kept across restarts.
 */
export class SqlLoginLimiter implements LoginLimiter {
  private writes = 0;

  constructor(
    private readonly db: Kysely<AccountsDb>,
    private readonly limits: LoginLimits,
  ) {}

  retryAfter(username: string, ip: string): Promise<number> {
    return inDatabase(async () => {
      const now = Date.now();
      const rows = await this.db
        .selectFrom('login_failures')
        .select(['key', 'failures', 'reset_at'])
        .where('key', 'in', [userKey(username), ipKey(ip)])
        .where('reset_at', '>', now)
        .execute();
      let wait = 0;
      for (const r of rows) {
        const max = r.key.startsWith('u:') ? this.limits.maxPerUser : this.limits.maxPerIp;
        if (Number(r.failures) >= max) wait = Math.max(wait, Math.ceil((Number(r.reset_at) - now) / 1000));
      }
      return wait;
    });
  }

  recordFailure(username: string, ip: string): Promise<void> {
    return inDatabase(async () => {
      const now = Date.now();
      const resetAt = now + this.limits.windowMs;
      for (const key of [userKey(username), ipKey(ip)]) {
        // A window that is over starts again at this failure; one that is open counts it.
        await this.db
          .insertInto('login_failures')
          .values({ key, failures: 1, reset_at: resetAt })
          .onConflict((oc) =>
            oc.column('key').doUpdateSet((eb) => ({
              failures: eb.case().when('login_failures.reset_at', '<=', now).then(1).else(eb('login_failures.failures', '+', 1)).end(),
              reset_at: eb.case().when('login_failures.reset_at', '<=', now).then(resetAt).else(eb.ref('login_failures.reset_at')).end(),
            })),
          )
          .execute();
      }
      if (++this.writes % 1000 === 0) await this.forgetOld(now);
    });
  }

  clearUser(username: string): Promise<void> {
    return inDatabase(async () => {
      await this.db.deleteFrom('login_failures').where('key', '=', userKey(username)).execute();
    });
  }

  /** Deletes finished windows, and the oldest ones past MAX_SQL_COUNTERS. */
  private async forgetOld(now: number): Promise<void> {
    await this.db.deleteFrom('login_failures').where('reset_at', '<=', now).execute();
    const { n } = await this.db.selectFrom('login_failures').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const excess = Number(n) - MAX_SQL_COUNTERS;
    if (excess > 0) {
      const oldest = this.db.selectFrom('login_failures').select('key').orderBy('reset_at').limit(excess);
      await this.db.deleteFrom('login_failures').where('key', 'in', oldest).execute();
    }
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
