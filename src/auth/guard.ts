// Guards: how HTTP routes and WebSocket routes learn who is asking.
// HTTP: `Authorization: Bearer`, checked in an `onRequest` hook (401/403 before the body is even
// read, which matters for uploads); it sets `request.principal`.
//   app.post('/x', { onRequest: [requireAuth(authenticator)] }, handler)
//   app.get('/admin-thing', { onRequest: [requireAuth(authenticator), requireAdmin] }, handler)
// Sockets: the header, or a `token` query parameter because browsers cannot set headers on a
// WebSocket (never logged: see the request serializer in app.ts). The token is checked before the
// upgrade, so the socket handler knows synchronously whether to serve or to close with 1008, and
// attaches its message listeners before any message can arrive.
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyRequest, FastifySchema, preValidationAsyncHookHandler } from 'fastify';
import type { WebSocket } from 'ws';
import { Close, CloseReason, Errors } from '../errors.js';
import { socketRefusal, type SocketRefusal } from '../error-mapping.js';
import type { Authenticator } from './authenticator.js';
import { canManage, type Principal } from './principal.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking: set by requireAuth. */
    principal?: Principal;
    /** A socket route's verdict on its token: set before the upgrade. */
    socketAuth?: { principal: Principal } | { refusal: SocketRefusal };
  }
}

export type Guard = (request: FastifyRequest) => Promise<void>;

export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const h = headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}

export function socketToken(headers: IncomingHttpHeaders, query: unknown): string | undefined {
  const fromHeader = bearerToken(headers);
  if (fromHeader) return fromHeader;
  const q = (query ?? {}) as Record<string, unknown>;
  return typeof q.token === 'string' && q.token !== '' ? q.token : undefined;
}

/**
 * Reads `Authorization: Bearer <access token>`, verifies it with the authenticator and sets
 * `request.principal`. Throws 401 MISSING_TOKEN, INVALID_TOKEN, TOKEN_EXPIRED or TOKEN_NOT_ACTIVE
 * (503 DB_UNAVAILABLE when a session cannot be looked up).
 */
export function requireAuth(authenticator: Authenticator): Guard {
  return async (request: FastifyRequest) => {
    request.principal = await authenticator.authenticate(bearerToken(request.headers));
  };
}

/** After requireAuth: only admins (canManage) pass; others get 403 FORBIDDEN. */
export async function requireAdmin(request: FastifyRequest): Promise<void> {
  if (!request.principal) throw new Errors.MISSING_TOKEN();
  if (!canManage(request.principal)) throw new Errors.FORBIDDEN('Admin role required');
}

/** What ws accepts as a handshake; ws itself would refuse the rest in text/html. */
const WS_KEY = /^[+/0-9A-Za-z]{22}==$/;

function socketAuthHook(auth: Authenticator): preValidationAsyncHookHandler {
  return async (req: FastifyRequest) => {
    if (req.ws) {
      const version = req.headers['sec-websocket-version'];
      if (!WS_KEY.test(String(req.headers['sec-websocket-key'] ?? '')) || (version !== '13' && version !== '8')) {
        throw new Errors.BAD_REQUEST('invalid WebSocket handshake (needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13)');
      }
    }
    const token = socketToken(req.headers, req.query);
    if (!token) {
      req.socketAuth = { refusal: { code: Close.POLICY, reason: CloseReason.MISSING_TOKEN } };
      return;
    }
    try {
      req.socketAuth = { principal: await auth.authenticate(token) };
    } catch (err) {
      req.socketAuth = { refusal: socketRefusal(err) };
    }
  };
}

/**
 * A GET route that speaks WebSocket only: a plain HTTP request gets 426 UPGRADE_REQUIRED (JSON, like
 * every error), a socket without a valid token is closed (1008), and `serve` gets the others.
 */
export function socketRoute<Params>(
  app: FastifyInstance,
  url: string,
  auth: Authenticator,
  schema: FastifySchema,
  serve: (ws: WebSocket, req: FastifyRequest<{ Params: Params }>, principal: Principal) => void,
): void {
  app.route<{ Params: Params }>({
    method: 'GET',
    url,
    schema: { ...schema, hide: true } as FastifySchema,
    preValidation: socketAuthHook(auth),
    handler: async () => {
      throw new Errors.UPGRADE_REQUIRED();
    },
    wsHandler: (ws, req) => {
      const result = req.socketAuth;
      if (!result || 'refusal' in result) {
        const r = result && 'refusal' in result ? result.refusal : { code: Close.POLICY, reason: CloseReason.MISSING_TOKEN };
        ws.close(r.code, r.reason);
        return;
      }
      serve(ws, req, result.principal);
    },
  });
}
