import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('has working defaults for the embedded setup', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8000, redisUrl: null, databaseUrl: null, jwtSecretGenerated: true, maxFrameBytes: 8 * 1024 * 1024, viewerTcpNotsentLowat: 128 * 1024 });
    expect(c.jwtSecret.length).toBeGreaterThanOrEqual(32);
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
    [{ REDIS_CLUSTER_NODES: 'node-a' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'http://node-a:7000' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'node-a:7000', REDIS_URL: 'redis://x:6379' }, 'REDIS_CLUSTER_NODES'],
    [{ WORKERS: '0' }, 'WORKERS'],
    [{ WORKERS: '2' }, 'WORKERS'],
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

  it('reads a Redis Cluster\'s seed nodes, with credentials and TLS from URL entries', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'node-a:7000, 10.0.0.2:7001' }).redisCluster).toEqual({
      nodes: [{ host: 'node-a', port: 7000 }, { host: '10.0.0.2', port: 7001 }], tls: false,
    });
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'rediss://app:s%40cret@node-a:7000,node-b:7000' }).redisCluster).toEqual({
      nodes: [{ host: 'node-a', port: 7000 }, { host: 'node-b', port: 7000 }], tls: true, username: 'app', password: 's@cret',
    });
    expect(loadConfig({}).redisCluster).toBeNull();
  });

  it('takes several workers with Redis or a Redis Cluster, on SQLite or PostgreSQL', () => {
    expect(loadConfig({}).workers).toBe(1);
    expect(loadConfig({ WORKERS: '4', REDIS_URL: 'redis://x:6379' }).workers).toBe(4);
    expect(loadConfig({ WORKERS: '2', REDIS_CLUSTER_NODES: 'a:7000' }).workers).toBe(2);
  });
});
