// Authenticated WebSocket routes. The token is checked before the upgrade (a preValidation hook), so
// the socket handler knows synchronously whether to serve or to close with 1008, and attaches its
// message listeners before any message can arrive.
import type { FastifyInstance, FastifyRequest, FastifySchema, preValidationAsyncHookHandler } from 'fastify';
import type { WebSocket } from 'ws';
import type { Authenticator } from './authenticator.js';
import type { Principal } from './principal.js';
import { socketToken } from './token-source.js';
import { Close, CloseReason, Errors } from '../errors.js';

export type SocketAuth = { principal: Principal } | { refusal: { code: number; reason: string } };

declare module 'fastify' {
  interface FastifyRequest {
    socketAuth?: SocketAuth;
  }
}

function refusalFor(err: unknown): { code: number; reason: string } {
  const code = (err as { code?: string }).code;
  if (code === 'TOKEN_NOT_ACTIVE') return { code: Close.POLICY, reason: CloseReason.TOKEN_NOT_ACTIVE };
  if (code === 'MISSING_TOKEN') return { code: Close.POLICY, reason: CloseReason.MISSING_TOKEN };
  if (code === 'INVALID_TOKEN' || code === 'TOKEN_EXPIRED') return { code: Close.POLICY, reason: CloseReason.INVALID_TOKEN };
  // The accounts database or Redis is down: not the client's fault, let it retry.
  return { code: Close.TRY_AGAIN_LATER, reason: 'Service unavailable' };
}

export function socketAuthHook(auth: Authenticator): preValidationAsyncHookHandler {
  return async (req: FastifyRequest) => {
    const token = socketToken(req.headers, req.query);
    if (!token) {
      req.socketAuth = { refusal: { code: Close.POLICY, reason: CloseReason.MISSING_TOKEN } };
      return;
    }
    try {
      req.socketAuth = { principal: await auth.authenticate(token) };
    } catch (err) {
      req.socketAuth = { refusal: refusalFor(err) };
    }
  };
}

/**
 * A GET route that speaks WebSocket only: a plain HTTP request gets 426 UPGRADE_REQUIRED (JSON, like
 * every error), a socket without a valid token is closed (1008), and `serve` gets the others.
 */
export function socketRoute<Params, Query = unknown>(
  app: FastifyInstance,
  url: string,
  auth: Authenticator,
  schema: FastifySchema & { hide?: boolean },
  serve: (ws: WebSocket, req: FastifyRequest<{ Params: Params; Querystring: Query }>, principal: Principal) => void,
): void {
  app.route<{ Params: Params; Querystring: Query }>({
    method: 'GET',
    url,
    // Hidden from the OpenAPI document unless the route documents itself (hide: false).
    schema: { hide: true, ...schema } as FastifySchema,
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
