// The HTTP or HTTPS server under Fastify (its serverFactory), made here so that its limits are the
// service's settings: the size of a request's headers (431 past it), how long its headers and the
// whole request may take to arrive (a client sending a byte at a time holds a connection that
// long, then gets 408 and is closed), and TCP connections per client address (limits.ts).
import http from 'node:http';
import https from 'node:https';
import type { Config } from '../config.js';
import type { ClientLimits } from './limits.js';
import type { TlsFiles } from './tls.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** Fastify's default: longer than the idle timeout of common load balancers (60 s). */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

export function createServer(
  config: Pick<Config, 'maxHeaderBytes' | 'headersTimeoutMs' | 'requestTimeoutMs'>,
  tlsFiles: TlsFiles | null,
  limits: ClientLimits,
  handler: Handler,
): http.Server {
  const options: http.ServerOptions = {
    maxHeaderSize: config.maxHeaderBytes,
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    // Node enforces both timeouts on this tick (30 s by default): often enough that they hold.
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(config.headersTimeoutMs / 4))),
  };
  const server = tlsFiles
    ? https.createServer({ ...options, cert: tlsFiles.cert, key: tlsFiles.key }, handler)
    : http.createServer(options, handler);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  limits.watchServer(server);
  return server;
}
