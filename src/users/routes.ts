// The accounts HTTP API: login, refresh, logout, me, own password; users and sites (admins only).
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticator.js';
import { requireAdmin, requireAuth } from '../auth/guard.js';
import { bearerToken } from '../auth/token-source.js';
import { Errors } from '../errors.js';
import type { Role } from '../auth/principal.js';
import type { AccountsService, UserPatch } from './service.js';
import * as S from './schemas.js';

export function accountsRoutes(service: AccountsService, authenticator: Authenticator): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const auth = requireAuth(authenticator);
    const admin = [auth, requireAdmin];
    const me = (req: FastifyRequest) => req.principal!;

    // ------------------------------------------------------------ sessions

    app.post<{ Body: { username: string; password: string } }>(
      '/login',
      {
        schema: {
          tags: ['auth'],
          summary: 'Log in: start a session and get its tokens',
          description:
            'Wrong password and unknown user get the same 401 BAD_CREDENTIALS; a deactivated user with the right password gets 403 ACCOUNT_DISABLED. Failed attempts are limited per username and per client address (429 with Retry-After).',
          body: {
            type: 'object',
            properties: { username: { type: 'string', minLength: 1, maxLength: 256 }, password: { type: 'string', minLength: 1, maxLength: 1024 } },
            required: ['username', 'password'],
          },
          response: { 200: S.loginReply, 401: S.errors[401], 403: S.errors.accountDisabled, 422: S.errors[422], 429: S.errors[429], 503: S.errors[503] },
        },
      },
      async (req) => service.login(req.body.username, req.body.password, req.ip),
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
          response: { 200: S.tokenPair, 401: S.errors[401], 422: S.errors[422], 503: S.errors[503] },
        },
      },
      async (req) => {
        const token = req.body?.refresh_token ?? bearerToken(req.headers);
        if (!token) throw new Errors.MISSING_TOKEN();
        return service.refresh(token);
      },
    );

    app.post(
      '/logout',
      {
        onRequest: auth,
        schema: {
          tags: ['auth'],
          summary: 'End the session of this access token',
          security: S.bearer,
          response: { 200: S.status, 401: S.errors[401], 503: S.errors[503] },
        },
      },
      async (req) => {
        await service.logout(me(req));
        return { status: 'ok' };
      },
    );

    app.get(
      '/me',
      {
        onRequest: auth,
        schema: { tags: ['auth'], summary: 'The caller', security: S.bearer, response: { 200: S.user, 401: S.errors[401], 503: S.errors[503] } },
      },
      async (req) => service.me(me(req)),
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
          security: S.bearer,
          body: {
            type: 'object',
            properties: { old_password: { type: 'string', minLength: 1, maxLength: 1024 }, new_password: S.password },
            required: ['old_password', 'new_password'],
          },
          response: {
            200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] }, ...S.tokenPair.properties }, required: ['status', 'access_token', 'refresh_token'] },
            401: S.errors[401],
            403: S.errors[403],
            422: S.errors[422],
            429: S.errors[429],
            503: S.errors[503],
          },
        },
      },
      async (req) => {
        const pair = await service.changeOwnPassword(me(req), req.body.old_password, req.body.new_password, req.ip);
        return { status: 'ok', ...pair };
      },
    );

    // ------------------------------------------------------------ users (admins)

    const adminErrors = { 401: S.errors[401], 403: S.errors[403], 503: S.errors[503] };

    app.get(
      '/users',
      {
        onRequest: admin,
        schema: {
          tags: ['users'],
          summary: 'All users',
          security: S.bearer,
          response: { 200: { type: 'object', properties: { users: { type: 'array', items: S.user } }, required: ['users'] }, ...adminErrors },
        },
      },
      async () => ({ users: await service.listUsers() }),
    );

    app.post<{ Body: { username: string; password: string; role: Role; sites?: string[] } }>(
      '/users',
      {
        onRequest: admin,
        schema: {
          tags: ['users'],
          summary: 'Create a user',
          security: S.bearer,
          body: {
            type: 'object',
            properties: { username: S.username, password: S.password, role: S.role, sites: S.siteList },
            required: ['username', 'password', 'role'],
            additionalProperties: false,
          },
          response: { 201: S.user, ...adminErrors, 409: S.errors[409], 422: S.errors[422] },
        },
      },
      async (req, reply) => {
        const u = await service.createUser(req.body);
        return reply.code(201).send(u);
      },
    );

    app.get<{ Params: { id: string } }>(
      '/users/:id',
      {
        onRequest: admin,
        schema: { tags: ['users'], summary: 'One user', security: S.bearer, params: S.idParams, response: { 200: S.user, ...adminErrors, 404: S.errors[404] } },
      },
      async (req) => service.getUser(Number(req.params.id)),
    );

    app.patch<{ Params: { id: string }; Body: UserPatch }>(
      '/users/:id',
      {
        onRequest: admin,
        schema: {
          tags: ['users'],
          summary: 'Change a user',
          description:
            'A password change or deactivation ends the user’s sessions and closes their sockets; a role or sites change re-checks their open sockets. `sites` replaces the list. 422: an admin deactivating themself, or demoting/deactivating the last active admin.',
          security: S.bearer,
          params: S.idParams,
          body: {
            type: 'object',
            properties: { username: S.username, password: S.password, role: S.role, is_active: { type: 'boolean' }, sites: S.siteList },
            additionalProperties: false,
            minProperties: 1,
          },
          response: { 200: S.user, ...adminErrors, 404: S.errors[404], 409: S.errors[409], 422: S.errors[422] },
        },
      },
      async (req) => service.updateUser(me(req), Number(req.params.id), req.body),
    );

    app.delete<{ Params: { id: string } }>(
      '/users/:id',
      {
        onRequest: admin,
        schema: {
          tags: ['users'],
          summary: 'Delete a user (ends their sessions)',
          description: '422: an admin deleting themself, or the last active admin.',
          security: S.bearer,
          params: S.idParams,
          response: { 204: S.noContent, ...adminErrors, 404: S.errors[404], 422: S.errors[422] },
        },
      },
      async (req, reply) => {
        await service.deleteUser(me(req), Number(req.params.id));
        return reply.code(204).send();
      },
    );

    // ------------------------------------------------------------ sites (admins)

    app.get(
      '/sites',
      {
        onRequest: admin,
        schema: {
          tags: ['sites'],
          summary: 'All sites',
          security: S.bearer,
          response: { 200: { type: 'object', properties: { sites: { type: 'array', items: S.site } }, required: ['sites'] }, ...adminErrors },
        },
      },
      async () => ({ sites: await service.listSites() }),
    );

    app.post<{ Body: { name: string } }>(
      '/sites',
      {
        onRequest: admin,
        schema: {
          tags: ['sites'],
          summary: 'Create a site',
          security: S.bearer,
          body: { type: 'object', properties: { name: S.siteName }, required: ['name'], additionalProperties: false },
          response: { 201: S.site, ...adminErrors, 409: S.errors[409], 422: S.errors[422] },
        },
      },
      async (req, reply) => reply.code(201).send(await service.createSite(req.body.name)),
    );

    app.patch<{ Params: { id: string }; Body: { name: string } }>(
      '/sites/:id',
      {
        onRequest: admin,
        schema: {
          tags: ['sites'],
          summary: 'Rename a site',
          description: 'Sockets watching the old name close (1008) within seconds.',
          security: S.bearer,
          params: S.idParams,
          body: { type: 'object', properties: { name: S.siteName }, required: ['name'], additionalProperties: false },
          response: { 200: S.site, ...adminErrors, 404: S.errors[404], 409: S.errors[409], 422: S.errors[422] },
        },
      },
      async (req) => service.renameSite(Number(req.params.id), req.body.name),
    );

    app.delete<{ Params: { id: string } }>(
      '/sites/:id',
      {
        onRequest: admin,
        schema: {
          tags: ['sites'],
          summary: 'Delete a site (its users lose it; their sockets for it close)',
          security: S.bearer,
          params: S.idParams,
          response: { 204: S.noContent, ...adminErrors, 404: S.errors[404] },
        },
      },
      async (req, reply) => {
        await service.deleteSite(Number(req.params.id));
        return reply.code(204).send();
      },
    );
  };
}
