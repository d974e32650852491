// What one client may hold at once. Per peer address: TCP connections (HTTP and WebSocket alike),
// counted as they are accepted, so that one address cannot take every connection the process can
// serve (one past the limit is closed at once, before a byte is read). Per user: open WebSockets
// (one past the limit is closed with 1013 after the upgrade) and HTTP requests in flight (429).
// Behind a proxy (TRUST_PROXY) every connection comes from the proxy's address: the per-address
// limit is not applied there; the proxy bounds its clients.
import type { Server } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { Close, CloseReason, rateLimited } from '../errors.js';
import { Slots } from '../lib/slots.js';

export class ClientLimits {
  readonly connections: Slots<string>;
  readonly sockets: Slots<number>;
  readonly requests: Slots<number>;
  /** Connections closed at accept because their address held its limit. */
  refusedConnections = 0;

  constructor(config: Pick<Config, 'maxConnectionsPerAddress' | 'maxSocketsPerUser' | 'maxRequestsPerUser' | 'trustProxy'>) {
    this.connections = new Slots(config.trustProxy ? 0 : config.maxConnectionsPerAddress);
    this.sockets = new Slots(config.maxSocketsPerUser);
    this.requests = new Slots(config.maxRequestsPerUser);
  }

  /** Counts the server's TCP connections per peer address. */
  watchServer(server: Server): void {
    server.on('connection', (socket) => {
      const release = this.connections.acquire(socket.remoteAddress ?? '');
      if (!release) {
        this.refusedConnections++;
        socket.destroy();
        return;
      }
      socket.once('close', release);
    });
  }

  /**
   * The per-user limits, as application hooks (before any route is registered). They run after the
   * routes' own authentication: HTTP requests in preParsing (after requireAuth, before the body is
   * read), socket upgrades in preHandler (after the socket route's token check).
   */
  register(app: FastifyInstance): void {
    // Callback style: they run for every request, and need no promise.
    app.addHook('preParsing', (req, reply, payload, done) => {
      if (!req.principal || req.ws) return done(null, payload);
      const release = this.requests.acquire(req.principal.userId);
      if (!release) return done(rateLimited(1));
      reply.raw.once('close', release); // answered, or the client went away
      done(null, payload);
    });
    app.addHook('preHandler', (req, _reply, done) => {
      const auth = req.socketAuth;
      if (req.ws && auth && 'principal' in auth) {
        const release = this.sockets.acquire(auth.principal.userId);
        if (release) req.raw.socket.once('close', release);
        else req.socketAuth = { refusal: { code: Close.TRY_AGAIN_LATER, reason: CloseReason.TOO_MANY_SOCKETS } };
      }
      done();
    });
  }
}
