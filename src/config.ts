// The one place that reads the environment. Every other module receives a Config.
// A bad value stops start-up with a ConfigError that names the setting.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';

export class ConfigError extends Error {
  constructor(readonly setting: string, message: string) {
    super(`${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  nodeEnv: string;
  host: string;
  port: number;
  logLevel: LogLevel;
  /** json: one JSON object a line; pretty: readable lines; auto: pretty on a terminal. */
  logFormat: 'auto' | 'json' | 'pretty';
  /** Origins allowed by CORS; empty = CORS off (same origin only). */
  corsOrigins: string[];
  trustProxy: boolean;

  jwtSecret: string;
  /** True when JWT_SECRET was unset: a random secret, until persistSecret() keeps it in DATA_DIR. */
  jwtSecretGenerated: boolean;
  /** Where a generated secret is kept (set by persistSecret), else null. */
  jwtSecretFile: string | null;
  accessTokenTtlSec: number;
  refreshTokenTtlSec: number;

  redisUrl: string | null;
  /** A Redis Cluster (REDIS_CLUSTER_NODES) instead of redisUrl: seed nodes and what to connect with. */
  redisCluster: RedisClusterSettings | null;
  /** Prefix for every Redis key and channel this service owns (rate limits, account events); never for frame streams. */
  redisPrefix: string;
  databaseUrl: string | null;
  dataDir: string;
  adminUsername: string;
  adminPassword: string | null;

  /** Largest image accepted by POST /frames and WS /ws/frames. */
  maxFrameBytes: number;
  /** Per-stream MAXLEN ~ for XADD. */
  streamMaxLen: number;
  /** How often the Redis store scans for streams written by other writers. */
  scanIntervalMs: number;
  /** A camera with no frame for this long leaves the label list (and the memory store). */
  streamIdleMs: number;
  /** The memory store keeps at most this many streams (least recently updated go first). */
  maxStreams: number;
  /** The memory store keeps at most this many bytes of frames (least recently updated go first). */
  memoryStoreMaxBytes: number;
  /** Uploads (POST /frames) being received at once; more get 429 (each may hold MAX_FRAME_BYTES). */
  maxConcurrentUploads: number;
  /** Uploads being received at once for one user, and from one client address. */
  maxUploadsPerUser: number;
  maxUploadsPerAddress: number;
  /** An upload body that has not fully arrived this long after its headers gets 408. */
  uploadBodyTimeoutMs: number;
  /** Largest value of each metadata field (warnings_json, ...), in bytes. */
  maxMetadataBytes: number;
  /** Largest headers of one multipart part (its name and filename included), in bytes. */
  maxPartHeaderBytes: number;
  /** After an early error reply, how long and how much of the rest of a body is read and dropped. */
  lingerMs: number;
  lingerMaxBytes: number;
  /** Labels containing any of these substrings are hidden from GET /labels. */
  hiddenLabelSubstrings: string[];

  /** A viewer whose unsent bytes pass this gets latest-wins frames until it drains. */
  viewerMaxBufferBytes: number;
  /** Not-yet-sent bytes the kernel may queue per viewer socket (TCP_NOTSENT_LOWAT); 0 = the kernel's default. */
  viewerTcpNotsentLowat: number;
  /** A viewer whose unsent bytes have not gone down for this long is closed with 1013. */
  viewerStallMs: number;
  /** Pull sockets that send nothing for this long are closed (1000, "Receive timeout"); 0 = never. */
  pullIdleTimeoutMs: number;
  /** Maximum viewer sockets per process; more get 1013. */
  maxViewers: number;
  /** Widest preview a viewer may ask for (`preview_width`). */
  previewMaxWidth: number;
  /** Previews being made at once (each takes one thread of libuv's pool): bounds their CPU. */
  previewConcurrency: number;
  /** JPEG quality of previews, 1..100. */
  previewQuality: number;

  loginMaxFailures: number;
  loginWindowMs: number;
  labelsRateMax: number;
  labelsRateWindowMs: number;
  /** How often each process rechecks what open sockets may see (a fallback to pushed changes). */
  accessRecheckMs: number;
  shutdownGraceMs: number;
  /** Worker processes sharing the port (node:cluster); 1 = this process serves. */
  workers: number;

  /** The same warning on the same camera within this long extends its open safety event. */
  eventQuietMs: number;
  /** How often recorded warnings are written to the database, in one batch. */
  eventFlushMs: number;
  /** Warning runs waiting to be written, at most (the oldest are dropped and counted). */
  eventQueueMax: number;
  /** Frames larger than this get no event snapshot; 0 = no snapshots. */
  eventSnapshotMaxBytes: number;
  /** How long events are kept until an admin sets a retention period (PUT /events/retention). */
  eventRetentionDays: number;
  /** How often events older than the retention period are deleted. */
  eventRetentionSweepMs: number;
  /** Open live event streams (GET /events/stream) per process; more get 503. */
  eventStreamMaxClients: number;
  /** A webhook receiver that has not answered within this long has failed the attempt. */
  webhookTimeoutMs: number;
  /** Deliveries in flight per webhook. */
  webhookConcurrency: number;
  /** Wait before the first retry of a failed delivery; doubled each time (at most an hour). */
  webhookBackoffMs: number;
  /** A delivery still failing this long after its event is marked failed. */
  webhookRetryForMs: number;

  /** TCP connections (HTTP and WebSocket alike) from one peer address; 0 = no limit. Not applied with trustProxy. */
  maxConnectionsPerAddress: number;
  /** Open WebSockets per user (viewers and producers); more are closed with 1013; 0 = no limit. */
  maxSocketsPerUser: number;
  /** HTTP requests in flight per user; more get 429; 0 = no limit. */
  maxRequestsPerUser: number;
  /** Largest request line and headers, bytes (Node's maxHeaderSize); larger get 431. */
  maxHeaderBytes: number;
  /** A request's headers must have arrived this long after it started (slowloris). */
  headersTimeoutMs: number;
  /** A whole request, headers and body, must have arrived within this. */
  requestTimeoutMs: number;
  /** TLS served directly: PEM certificate (chain) and key files; both or neither. */
  tlsCert: string | null;
  tlsKey: string | null;
}

export interface RedisClusterSettings {
  /** Seed nodes: the client learns the others from them. */
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
  tls: boolean;
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, def: string): string {
  const v = env[name];
  return v === undefined || v === '' ? def : v;
}

function int(env: Env, name: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function list(env: Env, name: string, def: string[]): string[] {
  const raw = env[name];
  if (raw === undefined) return def;
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

function url(env: Env, name: string, protocols: string[]): string | null {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(name, `is not a URL`);
  }
  if (!protocols.includes(u.protocol)) {
    throw new ConfigError(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return raw;
}

/** REDIS_CLUSTER_NODES: `host:port` or `redis[s]://[user:password@]host:port` entries, comma-separated. */
function redisCluster(env: Env): RedisClusterSettings | null {
  const entries = list(env, 'REDIS_CLUSTER_NODES', []);
  if (entries.length === 0) return null;
  const out: RedisClusterSettings = { nodes: [], tls: false };
  for (const entry of entries) {
    let u: URL;
    try {
      u = new URL(entry.includes('://') ? entry : `redis://${entry}`);
    } catch {
      throw new ConfigError('REDIS_CLUSTER_NODES', `"${maskPassword(entry)}" is not host:port`);
    }
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
      throw new ConfigError('REDIS_CLUSTER_NODES', 'entries are host:port, redis://host:port or rediss://host:port');
    }
    if (!u.hostname || !u.port || (u.pathname !== '' && u.pathname !== '/')) {
      throw new ConfigError('REDIS_CLUSTER_NODES', `"${maskPassword(entry)}" must name a host and a port (host:port)`);
    }
    out.nodes.push({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) });
    if (u.protocol === 'rediss:') out.tls = true;
    if (u.password && out.password === undefined) {
      out.password = decodeURIComponent(u.password);
      if (u.username) out.username = decodeURIComponent(u.username);
    }
  }
  return out;
}

/** A readable file's path (resolved), or null when unset. Its content is checked where it is used. */
function file(env: Env, name: string): string | null {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  const p = path.resolve(raw);
  try {
    fs.accessSync(p, fs.constants.R_OK);
  } catch {
    throw new ConfigError(name, `cannot read ${p}`);
  }
  return p;
}

/** A connection URL fit for logs and error messages: the password is masked. */
export function maskPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = str(env, 'NODE_ENV', 'development');
  const secret = env.JWT_SECRET;
  if (nodeEnv === 'production' && !secret) throw new ConfigError('JWT_SECRET', 'is required when NODE_ENV=production');
  if (secret !== undefined && secret !== '' && secret.length < 16) {
    throw new ConfigError('JWT_SECRET', 'must be at least 16 characters');
  }
  const logLevel = str(env, 'LOG_LEVEL', 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  const logFormat = str(env, 'LOG_FORMAT', 'auto') as Config['logFormat'];
  if (!['auto', 'json', 'pretty'].includes(logFormat)) throw new ConfigError('LOG_FORMAT', 'must be auto, json or pretty');
  const adminPassword = env.ADMIN_PASSWORD ? env.ADMIN_PASSWORD : null;
  if (adminPassword !== null && adminPassword.length < 8) {
    throw new ConfigError('ADMIN_PASSWORD', 'must be at least 8 characters');
  }
  const corsOrigins = list(env, 'CORS_ORIGINS', []);
  for (const o of corsOrigins) {
    if (o !== '*' && !/^https?:\/\/[^/]+$/.test(o)) {
      throw new ConfigError('CORS_ORIGINS', `"${o}" is not an origin like https://example.com`);
    }
  }

  const config: Config = {
    nodeEnv,
    host: str(env, 'HOST', '127.0.0.1'),
    port: int(env, 'PORT', 8000, 0, 65535),
    logLevel,
    logFormat,
    corsOrigins,
    trustProxy: bool(env, 'TRUST_PROXY', false),

    jwtSecret: secret ? secret : randomBytes(32).toString('base64url'),
    jwtSecretGenerated: !secret,
    jwtSecretFile: null,
    accessTokenTtlSec: int(env, 'ACCESS_TOKEN_TTL', 15 * 60, 10),
    refreshTokenTtlSec: int(env, 'REFRESH_TOKEN_TTL', 7 * 24 * 3600, 60),

    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    redisCluster: redisCluster(env),
    redisPrefix: str(env, 'REDIS_PREFIX', 'fs:'),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir: path.resolve(str(env, 'DATA_DIR', 'data')),
    adminUsername: str(env, 'ADMIN_USERNAME', 'admin'),
    adminPassword,

    maxFrameBytes: int(env, 'MAX_FRAME_BYTES', 8 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    streamMaxLen: int(env, 'STREAM_MAXLEN', 10, 1, 100_000),
    scanIntervalMs: int(env, 'SCAN_INTERVAL_MS', 2000, 1000),
    streamIdleMs: int(env, 'STREAM_IDLE_MS', 24 * 3600 * 1000, 1000),
    maxStreams: int(env, 'MAX_STREAMS', 10_000, 1),
    memoryStoreMaxBytes: int(env, 'MEMORY_STORE_MAX_BYTES', 512 * 1024 * 1024, 1024 * 1024),
    maxConcurrentUploads: int(env, 'MAX_CONCURRENT_UPLOADS', 64, 1),
    maxUploadsPerUser: int(env, 'MAX_UPLOADS_PER_USER', 16, 1),
    maxUploadsPerAddress: int(env, 'MAX_UPLOADS_PER_ADDRESS', 32, 1),
    uploadBodyTimeoutMs: int(env, 'UPLOAD_BODY_TIMEOUT_MS', 30_000, 100),
    maxMetadataBytes: int(env, 'MAX_METADATA_BYTES', 64 * 1024, 1024, 16 * 1024 * 1024),
    maxPartHeaderBytes: int(env, 'MAX_PART_HEADER_BYTES', 2048, 256, 64 * 1024),
    lingerMs: int(env, 'LINGER_MS', 5000, 0, 60_000),
    lingerMaxBytes: int(env, 'LINGER_MAX_BYTES', 128 * 1024 * 1024, 0),
    hiddenLabelSubstrings: list(env, 'HIDDEN_LABEL_SUBSTRINGS', ['test']),

    viewerMaxBufferBytes: int(env, 'VIEWER_MAX_BUFFER_BYTES', 1024 * 1024, 1024),
    viewerTcpNotsentLowat: int(env, 'VIEWER_TCP_NOTSENT_LOWAT', 128 * 1024, 0, 64 * 1024 * 1024),
    viewerStallMs: int(env, 'VIEWER_STALL_MS', 10_000, 100),
    pullIdleTimeoutMs: int(env, 'PULL_IDLE_TIMEOUT_MS', 60_000, 0),
    maxViewers: int(env, 'MAX_VIEWERS', 10_000, 1),
    previewMaxWidth: int(env, 'PREVIEW_MAX_WIDTH', 640, 64, 4096),
    previewConcurrency: int(env, 'PREVIEW_CONCURRENCY', 1, 1, 16),
    previewQuality: int(env, 'PREVIEW_QUALITY', 70, 1, 100),

    loginMaxFailures: int(env, 'LOGIN_MAX_FAILURES', 10, 1),
    loginWindowMs: int(env, 'LOGIN_WINDOW_MS', 15 * 60 * 1000, 1000),
    labelsRateMax: int(env, 'LABELS_RATE_MAX', 60, 1),
    labelsRateWindowMs: int(env, 'LABELS_RATE_WINDOW_MS', 60_000, 1000),
    accessRecheckMs: int(env, 'ACCESS_RECHECK_MS', 2000, 100),
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 10_000, 0),
    workers: int(env, 'WORKERS', 1, 1, 64),

    eventQuietMs: int(env, 'EVENT_QUIET_MS', 30_000, 100),
    eventFlushMs: int(env, 'EVENT_FLUSH_MS', 250, 10, 10_000),
    eventQueueMax: int(env, 'EVENT_QUEUE_MAX', 10_000, 1, 1_000_000),
    eventSnapshotMaxBytes: int(env, 'EVENT_SNAPSHOT_MAX_BYTES', 2 * 1024 * 1024, 0, 64 * 1024 * 1024),
    eventRetentionDays: int(env, 'EVENT_RETENTION_DAYS', 30, 1, 36_500),
    eventRetentionSweepMs: int(env, 'EVENT_RETENTION_SWEEP_MS', 60_000, 100),
    eventStreamMaxClients: int(env, 'EVENT_STREAM_MAX_CLIENTS', 1000, 1),
    webhookTimeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 5000, 100, 120_000),
    webhookConcurrency: int(env, 'WEBHOOK_CONCURRENCY', 2, 1, 64),
    webhookBackoffMs: int(env, 'WEBHOOK_BACKOFF_MS', 1000, 10),
    webhookRetryForMs: int(env, 'WEBHOOK_RETRY_FOR_MS', 24 * 3600 * 1000, 0),

    maxConnectionsPerAddress: int(env, 'MAX_CONNECTIONS_PER_ADDRESS', 256, 0),
    maxSocketsPerUser: int(env, 'MAX_SOCKETS_PER_USER', 256, 0),
    maxRequestsPerUser: int(env, 'MAX_REQUESTS_PER_USER', 32, 0),
    maxHeaderBytes: int(env, 'MAX_HEADER_BYTES', 16 * 1024, 1024, 1024 * 1024),
    headersTimeoutMs: int(env, 'HEADERS_TIMEOUT_MS', 10_000, 100),
    requestTimeoutMs: int(env, 'REQUEST_TIMEOUT_MS', 30_000, 100),
    tlsCert: file(env, 'TLS_CERT'),
    tlsKey: file(env, 'TLS_KEY'),
  };
  if (config.refreshTokenTtlSec <= config.accessTokenTtlSec) {
    throw new ConfigError('REFRESH_TOKEN_TTL', 'must be longer than ACCESS_TOKEN_TTL');
  }
  if (config.redisUrl && config.redisCluster) {
    throw new ConfigError('REDIS_CLUSTER_NODES', 'set either REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both');
  }
  if (config.workers > 1 && !config.redisUrl && !config.redisCluster) {
    // Each worker would keep its own frames in memory: a viewer would see only the uploads that
    // reached its own worker, and sessions' ends would not reach the others at once.
    throw new ConfigError('WORKERS', 'more than one worker needs REDIS_URL or REDIS_CLUSTER_NODES: without Redis each worker keeps its own frames');
  }
  // Node refuses a headers timeout longer than the request timeout.
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    throw new ConfigError('HEADERS_TIMEOUT_MS', `must not be longer than REQUEST_TIMEOUT_MS (${config.requestTimeoutMs})`);
  }
  if ((config.tlsCert === null) !== (config.tlsKey === null)) {
    throw new ConfigError(config.tlsCert ? 'TLS_KEY' : 'TLS_CERT', 'TLS_CERT and TLS_KEY go together: set both or neither');
  }
  return config;
}

/** The file under DATA_DIR that keeps a generated secret (see persistSecret). */
export function secretFile(config: Pick<Config, 'dataDir'>): string {
  return path.join(config.dataDir, 'jwt-secret');
}

/**
 * Without JWT_SECRET, the server and the admin CLI share one generated secret kept in DATA_DIR
 * (created on first use, readable by its owner only), so that tokens survive a restart and the
 * CLI's tokens are accepted by the quick-start server. Called by the entry points only: tests and
 * tools that build a Config keep theirs in memory.
 */
export function persistSecret(config: Config): Config {
  if (!config.jwtSecretGenerated) return config;
  const file = secretFile(config);
  let secret: string;
  try {
    secret = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError('DATA_DIR', `cannot read ${file}: ${(err as Error).message}`);
    secret = config.jwtSecret;
    try {
      fs.mkdirSync(config.dataDir, { recursive: true });
      fs.writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      // Another process (a second worker, the CLI) made it first: use theirs.
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') secret = fs.readFileSync(file, 'utf8').trim();
      else throw new ConfigError('DATA_DIR', `cannot write ${file}: ${(e as Error).message}`);
    }
  }
  if (secret.length < 16) throw new ConfigError('DATA_DIR', `${file} holds no usable secret (delete it to make a new one)`);
  return { ...config, jwtSecret: secret, jwtSecretFile: file };
}

/**
 * The settings of the server and the admin CLI: the environment over a `.env` file in the working
 * folder (or the file ENV_FILE names) when there is one (a variable set in the environment wins),
 * then the generated secret kept in DATA_DIR when JWT_SECRET is unset.
 */
export function loadSettings(env: Env = process.env): Config {
  const file = env.ENV_FILE || '.env';
  let fromFile: Env = {};
  try {
    fromFile = parseEnv(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || env.ENV_FILE) {
      throw new ConfigError('ENV_FILE', `cannot read ${file}: ${(err as Error).message}`);
    }
  }
  return persistSecret(loadConfig({ ...fromFile, ...env }));
}
