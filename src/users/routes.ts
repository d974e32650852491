// The users API: GET /me; users and sites (admins only).
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticator.js';
import { requireAdmin, requireAuth } from '../auth/guard.js';
import type { Role } from '../auth/principal.js';
import { password, role } from '../auth/schemas.js';
import { bearer, errors, noContent } from '../api-schemas.js';
import type { UsersService, UserPatch } from './service.js';
import * as S from './schemas.js';

export function usersRoutes(service: UsersService, authenticator: Authenticator): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const auth = requireAuth(authenticator);
    const admin = [auth, requireAdmin];
    const me = (req: FastifyRequest) => req.principal!;

    app.get(
      '/me',
      {
        onRequest: auth,
        schema: { tags: ['auth'], summary: 'The caller', security: bearer, response: { 200: S.user, 401: errors[401], 503: errors[503] } },
      },
      async (req) => service.me(me(req)),
    );

    // ------------------------------------------------------------ users (admins)

    const adminErrors = { 401: errors[401], 403: errors[403], 503: errors[503] };

    app.get(
      '/users',
      {
        onRequest: admin,
        schema: {
          tags: ['users'],
          summary: 'All users',
          security: bearer,
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
          security: bearer,
          body: {
            type: 'object',
            properties: { username: S.username, password: password, role: role, sites: S.siteList },
            required: ['username', 'password', 'role'],
            additionalProperties: false,
          },
          response: { 201: S.user, ...adminErrors, 409: errors[409], 422: errors[422] },
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
        schema: { tags: ['users'], summary: 'One user', security: bearer, params: S.idParams, response: { 200: S.user, ...adminErrors, 404: errors[404] } },
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
            'A password change, deactivation or rename ends the user’s sessions and closes their sockets (tokens name their user: after a rename, log in under the new name); a role or sites change re-checks their open sockets. `sites` replaces the list. 422: an admin deactivating themself, or demoting/deactivating the last active admin.',
          security: bearer,
          params: S.idParams,
          body: {
            type: 'object',
            properties: { username: S.username, password: password, role: role, is_active: { type: 'boolean' }, sites: S.siteList },
            additionalProperties: false,
            minProperties: 1,
          },
          response: { 200: S.user, ...adminErrors, 404: errors[404], 409: errors[409], 422: errors[422] },
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
          security: bearer,
          params: S.idParams,
          response: { 204: noContent, ...adminErrors, 404: errors[404], 422: errors[422] },
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
          security: bearer,
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
          security: bearer,
          body: { type: 'object', properties: { name: S.siteName }, required: ['name'], additionalProperties: false },
          response: { 201: S.site, ...adminErrors, 409: errors[409], 422: errors[422] },
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
          security: bearer,
          params: S.idParams,
          body: { type: 'object', properties: { name: S.siteName }, required: ['name'], additionalProperties: false },
          response: { 200: S.site, ...adminErrors, 404: errors[404], 409: errors[409], 422: errors[422] },
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
          security: bearer,
          params: S.idParams,
          response: { 204: noContent, ...adminErrors, 404: errors[404] },
        },
      },
      async (req, reply) => {
        await service.deleteSite(Number(req.params.id));
        return reply.code(204).send();
      },
    );
  };
}
