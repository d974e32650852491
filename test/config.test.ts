import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadSettings } from '../src/config.js';

describe('configuration', () => {
  it('has working defaults for the embedded setup', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8000, redisUrl: null, databaseUrl: null, jwtSecretGenerated: true, maxFrameBytes: 8 * 1024 * 1024, viewerTcpNotsentLowat: 128 * 1024,
      previewMaxWidth: 640, previewConcurrency: 1, previewQuality: 70 });
    expect(c.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(c).toMatchObject({ eventQuietMs: 30_000, eventRetentionDays: 30, eventStreamMaxClients: 1000, webhookTimeoutMs: 5000, webhookRetryForMs: 86_400_000 });
    expect(c).toMatchObject({
      maxConnectionsPerAddress: 256, maxSocketsPerUser: 256, maxRequestsPerUser: 32, maxHeaderBytes: 16384,
      headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, tlsCert: null, tlsKey: null, corsOrigins: [],
    });
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
    [{ PREVIEW_MAX_WIDTH: '10' }, 'PREVIEW_MAX_WIDTH'],
    [{ PREVIEW_CONCURRENCY: '0' }, 'PREVIEW_CONCURRENCY'],
    [{ PREVIEW_QUALITY: '101' }, 'PREVIEW_QUALITY'],
    [{ REDIS_CLUSTER_NODES: 'node-a' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'http://node-a:7000' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'node-a:7000', REDIS_URL: 'redis://x:6379' }, 'REDIS_CLUSTER_NODES'],
    [{ WORKERS: '0' }, 'WORKERS'],
    [{ WORKERS: '2' }, 'WORKERS'],
    [{ MAX_METADATA_BYTES: '100' }, 'MAX_METADATA_BYTES'],
    [{ MAX_PART_HEADER_BYTES: '10' }, 'MAX_PART_HEADER_BYTES'],
    [{ UPLOAD_BODY_TIMEOUT_MS: '0' }, 'UPLOAD_BODY_TIMEOUT_MS'],
    [{ MAX_UPLOADS_PER_USER: '0' }, 'MAX_UPLOADS_PER_USER'],
    [{ LINGER_MS: '600000' }, 'LINGER_MS'],
    [{ EVENT_QUIET_MS: '50' }, 'EVENT_QUIET_MS'],
    [{ EVENT_FLUSH_MS: '60000' }, 'EVENT_FLUSH_MS'],
    [{ EVENT_RETENTION_DAYS: '0' }, 'EVENT_RETENTION_DAYS'],
    [{ WEBHOOK_CONCURRENCY: '0' }, 'WEBHOOK_CONCURRENCY'],
    [{ WEBHOOK_TIMEOUT_MS: 'soon' }, 'WEBHOOK_TIMEOUT_MS'],
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

describe('documented settings', () => {
  const source = fs.readFileSync('src/config.ts', 'utf8');
  /** Every variable config.ts reads: by name in its source, and by watching loadConfig read an env. */
  const read = new Set([...source.matchAll(/env(?:, '|\.)([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!));
  loadConfig(new Proxy({}, { get: (_t, k) => (typeof k === 'string' && /^[A-Z]/.test(k) && read.add(k), undefined) }));

  const example = fs.readFileSync('.env.example', 'utf8');
  const exampleDefaults = new Map([...example.matchAll(/^# ([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  const readme = fs.readFileSync('README.md', 'utf8');
  const table = readme.slice(readme.indexOf('| variable | default | meaning |'));
  const readmeNames = new Set([...table.slice(0, table.indexOf('\n\n')).matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]!));

  it('lists every setting in .env.example and in the README, and nothing else', () => {
    expect([...exampleDefaults.keys()].sort()).toEqual([...read].sort());
    expect([...readmeNames].sort()).toEqual([...read].sort());
  });

  it("shows each setting's real default in .env.example", () => {
    const { jwtSecret: _ignored, ...defaults } = loadConfig({});
    for (const [name, value] of exampleDefaults) {
      if (value === '') continue; // no default value (unset, or generated)
      const { jwtSecret: _also, ...withValue } = loadConfig({ [name]: value });
      expect(withValue, `${name}=${value}`).toEqual(defaults);
    }
  });
});

describe('settings in a file', () => {
  it('reads ENV_FILE (or .env) under the environment, and refuses a named file that is missing', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-env-'));
    try {
      const file = path.join(dir, 'service.env');
      fs.writeFileSync(file, '# comment\nPORT=9123\nHOST=0.0.0.0\nJWT_SECRET="from-the-file-0123456789"\n');
      const c = loadSettings({ ENV_FILE: file, HOST: '127.0.0.2', DATA_DIR: dir });
      expect(c).toMatchObject({ port: 9123, host: '127.0.0.2', jwtSecret: 'from-the-file-0123456789', jwtSecretGenerated: false });
      expect(() => loadSettings({ ENV_FILE: path.join(dir, 'missing.env') })).toThrow(/ENV_FILE: cannot read/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
