// The login API: POST /login, /refresh, /logout; PUT /me/password.
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Errors } from '../errors.js';
import { bearer, errors, status } from '../api-schemas.js';
import type { Authenticator } from './authenticator.js';
import { bearerToken, requireAuth } from './guard.js';
import type { LoginService } from './login.js';
import { loginReply, password, tokenPair } from './schemas.js';

export function loginRoutes(login: LoginService, authenticator: Authenticator): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const auth = requireAuth(authenticator);
    const me = (req: FastifyRequest) => req.principal!;

    app.post<{ Body: { username: string; password: string } }>(
      '/login',
      {
        schema: {
          tags: ['auth'],
          summary: 'Log in: start a session and get its tokens',
          description:
            'Wrong password, unknown user and deactivated user get the same 401 BAD_CREDENTIALS. Failed attempts are limited per username and per client address (429 with Retry-After).',
          body: {
            type: 'object',
            properties: { username: { type: 'string', minLength: 1, maxLength: 256 }, password: { type: 'string', minLength: 1, maxLength: 1024 } },
            required: ['username', 'password'],
          },
          response: { 200: loginReply, 401: errors[401], 422: errors[422], 429: errors[429], 503: errors[503] },
        },
      },
      async (req) => login.login(req.body.username, req.body.password, req.ip),
    );

    app.post<{ Body: { refresh_token?: string } | undefined }>(
      '/refresh',
      {
        // A request without a body (the token as Bearer) validates as an empty object.
        preValidation: async (req) => {
          if (req.body === undefined || req.body === null) req.body = {};
        },
        schema: {
          tags: ['auth'],
          summary: 'Exchange a refresh token for a new pair',
          description:
            'The refresh token comes in the body or as `Authorization: Bearer`. It is single use: the reply carries a new one, and a retired refresh token presented again ends its session (401).',
          body: { type: 'object', properties: { refresh_token: { type: 'string', minLength: 1, maxLength: 4096 } } },
          response: { 200: tokenPair, 401: errors[401], 422: errors[422], 503: errors[503] },
        },
      },
      async (req) => {
        const token = req.body?.refresh_token ?? bearerToken(req.headers);
        if (!token) throw new Errors.MISSING_TOKEN();
        return login.refresh(token);
      },
    );

    app.post(
      '/logout',
      {
        onRequest: auth,
        schema: {
          tags: ['auth'],
          summary: 'End the session of this access token',
          security: bearer,
          response: { 200: status, 401: errors[401], 503: errors[503] },
        },
      },
      async (req) => {
        await login.logout(me(req));
        return { status: 'ok' };
      },
    );

    app.put<{ Body: { old_password: string; new_password: string } }>(
      '/me/password',
      {
        onRequest: auth,
        schema: {
          tags: ['auth'],
          summary: 'Change the caller’s password',
          description:
            'Ends every other session of the user. This session stays (its open sockets too), but its refresh token is retired: use the new pair in the reply. Guests may not change their password (403).',
          security: bearer,
          body: {
            type: 'object',
            properties: { old_password: { type: 'string', minLength: 1, maxLength: 1024 }, new_password: password },
            required: ['old_password', 'new_password'],
            additionalProperties: false,
          },
          response: {
            200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] }, ...tokenPair.properties }, required: ['status', 'access_token', 'refresh_token'] },
            401: errors[401],
            403: errors[403],
            422: errors[422],
            429: errors[429],
            503: errors[503],
          },
        },
      },
      async (req) => {
        const pair = await login.changeOwnPassword(me(req), req.body.old_password, req.body.new_password, req.ip);
        return { status: 'ok', ...pair };
      },
    );
  };
}
