// What browsers may do with this service: CORS for the origins in CORS_ORIGINS (none by default,
// `*` only when configured), the same list for WebSocket upgrades (a page elsewhere cannot open a
// socket with a token it got hold of), and security headers (helmet). Helmet's Content-Security-
// Policy is off: the API answers JSON, /docs needs swagger-ui's inline scripts, and the web
// viewer's pages set a policy of their own.
import type { FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { Config } from '../config.js';
import { Errors } from '../errors.js';

/**
 * May a page from `origin` open a WebSocket here? Its own origin always (the Host it connects to),
 * others when CORS_ORIGINS lists them (or is `*`).
 */
export function socketOriginAllowed(origin: string, host: string | undefined, allowed: readonly string[]): boolean {
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  if (!host) return false;
  try {
    return new URL(origin).host.toLowerCase() === host.toLowerCase();
  } catch {
    return false; // "null" (sandboxed frames, files) and anything else that is not an origin
  }
}

export async function registerBrowserSecurity(app: FastifyInstance, config: Pick<Config, 'corsOrigins' | 'tlsCert'>): Promise<void> {
  if (config.corsOrigins.length > 0) {
    await app.register(cors, { origin: config.corsOrigins.includes('*') ? true : config.corsOrigins, credentials: false });
  }
  await app.register(helmet, {
    contentSecurityPolicy: false,
    // Only a response over TLS may pin browsers to HTTPS; behind a TLS proxy, the proxy sends it.
    hsts: config.tlsCert !== null,
  });
  // An upgrade answered over HTTP instead (refused here, a preflight, a hook's error) arrived through
  // the server's 'upgrade' event: its connection has no HTTP parser left to read a next request and
  // would stay open for good. Close it once the reply is written.
  app.addHook('onResponse', (req, _reply, done) => {
    if (req.headers.upgrade !== undefined) req.raw.socket.destroy();
    done();
  });
  // Sockets from programs (producers, the CLI, framebench) send no Origin: only browsers are judged.
  app.addHook('onRequest', (req, _reply, done) => {
    const origin = req.headers.origin;
    const refused = origin !== undefined && req.headers.upgrade?.toLowerCase() === 'websocket' && !socketOriginAllowed(origin, req.host, config.corsOrigins);
    done(refused ? new Errors.ORIGIN_FORBIDDEN(origin) : undefined);
  });
}
