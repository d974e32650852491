// HTTP guards for routes. Use them as `onRequest` hooks (401/403 before the body is even read, which
// matters for uploads) or as `preHandler`s; either sets `request.principal`.
//   app.post('/x', { onRequest: [requireAuth(authenticator)] }, handler)
//   app.get('/admin-thing', { onRequest: [requireAuth(authenticator), requireAdmin] }, handler)
import type { FastifyRequest } from 'fastify';
import type { Authenticator } from './authenticator.js';
import { canManage, type Principal } from './principal.js';
import { bearerToken } from './token-source.js';
import { Errors } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking: set by requireAuth. */
    principal?: Principal;
  }
}

export type Guard = (request: FastifyRequest) => Promise<void>;

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
