import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('has working defaults for the embedded setup', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8000, redisUrl: null, databaseUrl: null, jwtSecretGenerated: true, maxFrameBytes: 8 * 1024 * 1024, viewerTcpNotsentLowat: 128 * 1024 });
    expect(c.jwtSecret.length).toBeGreaterThanOrEqual(32);
  });

  it('bounds uploads by default', () => {
    expect(loadConfig({})).toMatchObject({
      maxUploadsPerUser: 16, maxUploadsPerAddress: 32, uploadBodyTimeoutMs: 30_000, maxMetadataBytes: 64 * 1024,
      maxPartHeaderBytes: 2048, lingerMs: 5000, lingerMaxBytes: 128 * 1024 * 1024,
    });
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
    [{ MAX_METADATA_BYTES: '100' }, 'MAX_METADATA_BYTES'],
    [{ MAX_PART_HEADER_BYTES: '10' }, 'MAX_PART_HEADER_BYTES'],
    [{ UPLOAD_BODY_TIMEOUT_MS: '0' }, 'UPLOAD_BODY_TIMEOUT_MS'],
    [{ MAX_UPLOADS_PER_USER: '0' }, 'MAX_UPLOADS_PER_USER'],
    [{ LINGER_MS: '600000' }, 'LINGER_MS'],
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
