import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('has working defaults for the embedded setup', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8000, redisUrl: null, databaseUrl: null, jwtSecretGenerated: true, maxFrameBytes: 8 * 1024 * 1024, viewerTcpNotsentLowat: 128 * 1024 });
    expect(c.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(c).toMatchObject({ eventQuietMs: 30_000, eventRetentionDays: 30, eventStreamMaxClients: 1000, webhookTimeoutMs: 5000, webhookRetryForMs: 86_400_000 });
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ NODE_ENV: 'production' }, 'JWT_SECRET'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ SCAN_INTERVAL_MS: '500' }, 'SCAN_INTERVAL_MS'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ TRUST_PROXY: 'maybe' }, 'TRUST_PROXY'],
    [{ CORS_ORIGINS: 'example.com' }, 'CORS_ORIGINS'],
    [{ ADMIN_PASSWORD: 'short' }, 'ADMIN_PASSWORD'],
    [{ ACCESS_TOKEN_TTL: '900', REFRESH_TOKEN_TTL: '600' }, 'REFRESH_TOKEN_TTL'],
    [{ VIEWER_TCP_NOTSENT_LOWAT: '-1' }, 'VIEWER_TCP_NOTSENT_LOWAT'],
    [{ VIEWER_TCP_NOTSENT_LOWAT: '100000000' }, 'VIEWER_TCP_NOTSENT_LOWAT'],
    [{ EVENT_QUIET_MS: '50' }, 'EVENT_QUIET_MS'],
    [{ EVENT_FLUSH_MS: '60000' }, 'EVENT_FLUSH_MS'],
    [{ EVENT_RETENTION_DAYS: '0' }, 'EVENT_RETENTION_DAYS'],
    [{ WEBHOOK_CONCURRENCY: '0' }, 'WEBHOOK_CONCURRENCY'],
    [{ WEBHOOK_TIMEOUT_MS: 'soon' }, 'WEBHOOK_TIMEOUT_MS'],
  ])('refuses %j naming the setting', (env, setting) => {
    let err: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).setting).toBe(setting);
    expect((err as Error).message).toContain(setting);
  });
});
