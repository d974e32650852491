// The one place that reads the environment. Every other module receives a Config.
// A bad value stops start-up with a ConfigError that names the setting.
import { randomBytes } from 'node:crypto';
import path from 'node:path';

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
  /** Origins allowed by CORS; empty = CORS off (same origin only). */
  corsOrigins: string[];
  trustProxy: boolean;

  jwtSecret: string;
  /** True when JWT_SECRET was unset and a random one was made (tokens die with the process). */
  jwtSecretGenerated: boolean;
  accessTokenTtlSec: number;
  refreshTokenTtlSec: number;

  redisUrl: string | null;
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

  loginMaxFailures: number;
  loginWindowMs: number;
  labelsRateMax: number;
  labelsRateWindowMs: number;
  /** How often each process rechecks what open sockets may see (a fallback to pushed changes). */
  accessRecheckMs: number;
  shutdownGraceMs: number;
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
    corsOrigins,
    trustProxy: bool(env, 'TRUST_PROXY', false),

    jwtSecret: secret ? secret : randomBytes(32).toString('base64url'),
    jwtSecretGenerated: !secret,
    accessTokenTtlSec: int(env, 'ACCESS_TOKEN_TTL', 15 * 60, 10),
    refreshTokenTtlSec: int(env, 'REFRESH_TOKEN_TTL', 7 * 24 * 3600, 60),

    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
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

    loginMaxFailures: int(env, 'LOGIN_MAX_FAILURES', 10, 1),
    loginWindowMs: int(env, 'LOGIN_WINDOW_MS', 15 * 60 * 1000, 1000),
    labelsRateMax: int(env, 'LABELS_RATE_MAX', 60, 1),
    labelsRateWindowMs: int(env, 'LABELS_RATE_WINDOW_MS', 60_000, 1000),
    accessRecheckMs: int(env, 'ACCESS_RECHECK_MS', 2000, 100),
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 10_000, 0),
  };
  if (config.refreshTokenTtlSec <= config.accessTokenTtlSec) {
    throw new ConfigError('REFRESH_TOKEN_TTL', 'must be longer than ACCESS_TOKEN_TTL');
  }
  return config;
}
