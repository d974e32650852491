// The accounts, assembled from their two parts over the shared connections: auth/ (who is asking:
// tokens, sessions, the authenticator, logging in) and users/ (users and sites). The server
// (app.ts) and the admin CLI build them the same way.
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from './config.js';
import type { Connections } from './connections.js';
import type { Logger } from './lib/log.js';
import { LocalEventBus, RedisEventBus, type EventBus } from './auth/account-events.js';
import { SessionAuthenticator } from './auth/authenticator.js';
import { RedisLoginLimiter, SqlLoginLimiter, type LoginLimiter } from './auth/login-limiter.js';
import { LoginService } from './auth/login.js';
import { warmPasswords } from './auth/passwords.js';
import type { Role } from './auth/principal.js';
import { loginRoutes } from './auth/routes.js';
import { SessionStore, Sessions, type TokenPair } from './auth/sessions.js';
import { TokenService } from './auth/tokens.js';
import { AccountsRepository, type UserView } from './users/repository.js';
import { usersRoutes } from './users/routes.js';
import { UsersService } from './users/service.js';

export interface Accounts {
  authenticator: SessionAuthenticator;
  sessions: Sessions;
  login: LoginService;
  users: UsersService;
  /** The HTTP API (login, refresh, logout, me, users, sites): register it with app.register. */
  routes: FastifyPluginAsync;
  createUser(input: { username: string; password: string; role: Role; sites?: string[] }): Promise<UserView>;
  /** Starts a session for an existing active user and signs its tokens (CLI, tests, bench). */
  issueTokens(username: string): Promise<TokenPair>;
  /** When the users table is empty: creates ADMIN_USERNAME; `password` is set only when generated. */
  ensureFirstAdmin(): Promise<{ created: boolean; username: string; password?: string }>;
  /** Stops timers and the event subscription (the connections are closed by their owner). */
  close(): Promise<void>;
}

export interface AccountsOptions {
  log: Logger;
  /** Failed logins per client address before 429 (default: 5 × loginMaxFailures). */
  loginIpMaxFailures?: number;
}

/** With Redis (pushes reach every instance), cached sessions and users are still re-read after this long. */
const PUSHED_CACHE_MAX_AGE_MS = 60_000;

export async function createAccounts(config: Config, conns: Connections, opts: AccountsOptions): Promise<Accounts> {
  const { log } = opts;
  const { db, dialect } = conns.database;
  const limits = {
    maxPerUser: config.loginMaxFailures,
    maxPerIp: opts.loginIpMaxFailures ?? config.loginMaxFailures * 5,
    windowMs: config.loginWindowMs,
  };
  let bus: EventBus;
  let limiter: LoginLimiter;
  if (conns.redis) {
    bus = await RedisEventBus.start(conns.redis.client, conns.redis.subscriber(), `${config.redisPrefix}accounts:events`, log);
    limiter = new RedisLoginLimiter(conns.redis.client, config.redisPrefix, limits);
  } else {
    bus = new LocalEventBus(log);
    limiter = new SqlLoginLimiter(db, limits);
  }
  // Without Redis, another process (the CLI, another instance on PostgreSQL) cannot push to this
  // one: cached entries are re-read after one recheck interval.
  const maxAgeMs = conns.redis ? PUSHED_CACHE_MAX_AGE_MS : config.accessRecheckMs;

  const tokens = new TokenService(config.jwtSecret, config.accessTokenTtlSec, config.refreshTokenTtlSec);
  const sessions = new Sessions(new SessionStore(db), tokens, bus, { maxAgeMs }, log);
  const repo = new AccountsRepository(db, dialect);
  const authenticator = new SessionAuthenticator(tokens, sessions, repo, bus, { recheckMs: config.accessRecheckMs, maxAgeMs }, log);
  const login = new LoginService(repo, sessions, limiter, log);
  const users = new UsersService(repo, sessions, bus, limiter, log);
  void warmPasswords();

  const routes: FastifyPluginAsync = async (app) => {
    await app.register(loginRoutes(login, authenticator));
    await app.register(usersRoutes(users, authenticator));
  };
  let closed: Promise<void> | null = null;
  log.debug({ database: conns.database.where }, 'accounts ready');
  return {
    authenticator,
    sessions,
    login,
    users,
    routes,
    createUser: (input) => users.createUser(input),
    issueTokens: (username) => login.issueTokens(username),
    ensureFirstAdmin: () => users.ensureFirstAdmin(config.adminUsername, config.adminPassword),
    close() {
      closed ??= (async () => {
        sessions.close();
        authenticator.close();
        await bus.close();
      })();
      return closed;
    },
  };
}

/** Creates the first admin when there are no users, and says so: a generated password is printed once. */
export async function ensureFirstAdmin(accounts: Accounts, log: Logger): Promise<void> {
  const admin = await accounts.ensureFirstAdmin();
  if (!admin.created) return;
  if (admin.password) {
    // Printed once, to the console only: this is the only copy.
    console.log(`\n  First admin created.  username: ${admin.username}  password: ${admin.password}\n`);
  } else {
    log.info({ username: admin.username }, 'first admin created from ADMIN_USERNAME/ADMIN_PASSWORD');
  }
}
