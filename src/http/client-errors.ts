// Requests that Node's HTTP parser refuses never reach a route or Fastify's error handler (headers
// too large, bad framing, an unknown method, conflicting lengths, too slow to arrive). This answers
// them in the catalogue's {detail, code} shape too (Fastify's `clientErrorHandler` option).
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Errors } from '../errors.js';
import { clientErrorReply, errorJson } from '../error-mapping.js';

type ClientError = Error & { code?: string; reason?: string };
type Handler = (this: FastifyInstance, err: ClientError, socket: Socket) => void;

/**
 * Fastify's `clientErrorHandler` (called bound to the instance). The reply is followed by a
 * half-close, and the socket is cut `lingerMs` later: a client still writing the rest of its request
 * reads the reply instead of a reset.
 */
export function clientErrorHandler(lingerMs: number): Handler {
  const answered = new WeakSet<Socket>();
  return function (err, socket) {
    // A reset connection has nothing left to answer; an answered one is only waiting to close
    // (Node's parser reports every later chunk again).
    if (err.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return;
    answered.add(socket);
    const r = clientErrorReply(err);
    // Never the raw packet: it may hold a token.
    this.log.debug({ code: err.code, reason: err.reason, status: r.status }, 'malformed request refused');
    // A response already under way on this socket (a request timing out while its body is read
    // after an early reply) gets no second one.
    const busy = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (!socket.writable || busy || lingerMs === 0) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify(errorJson(r));
    socket.end(
      `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    const cut = setTimeout(() => socket.destroy(), lingerMs);
    cut.unref();
    socket.once('close', () => clearTimeout(cut));
  };
}

/**
 * Node answers an HTTP/1.1 request without a Host header with a bare 400 of its own; the service
 * refuses it the same way, in the catalogue's shape.
 */
export function refuseMissingHost(app: FastifyInstance): void {
  (app.server as { requireHostHeader?: boolean }).requireHostHeader = false;
  app.addHook('onRequest', (req, _reply, done) => {
    done(req.raw.headers.host === undefined && req.raw.httpVersion === '1.1' ? new Errors.BAD_REQUEST('Host header is required') : undefined);
  });
}
