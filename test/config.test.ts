import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('has working defaults for the embedded setup', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8000, redisUrl: null, databaseUrl: null, jwtSecretGenerated: true, maxFrameBytes: 8 * 1024 * 1024, viewerTcpNotsentLowat: 128 * 1024 });
    expect(c.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(c).toMatchObject({
      maxConnectionsPerAddress: 256, maxSocketsPerUser: 256, maxRequestsPerUser: 32, maxHeaderBytes: 16384,
      headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, tlsCert: null, tlsKey: null, corsOrigins: [],
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
    [{ MAX_CONNECTIONS_PER_ADDRESS: 'many' }, 'MAX_CONNECTIONS_PER_ADDRESS'],
    [{ MAX_HEADER_BYTES: '100' }, 'MAX_HEADER_BYTES'],
    [{ HEADERS_TIMEOUT_MS: '20000', REQUEST_TIMEOUT_MS: '10000' }, 'HEADERS_TIMEOUT_MS'],
    [{ TLS_CERT: '/nonexistent/cert.pem', TLS_KEY: '/nonexistent/key.pem' }, 'TLS_CERT'],
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
