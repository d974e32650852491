// The webhooks API (admins): where new events are POSTed, for which sites, with which secret; and
// what became of the deliveries (the last error of a failing receiver is shown on the webhook).
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Authenticator } from '../auth/authenticator.js';
import { requireAdmin, requireAuth } from '../auth/guard.js';
import { bearer, errors, noContent } from '../api-schemas.js';
import { Errors } from '../errors.js';
import { inDatabase } from '../error-mapping.js';
import { idParams } from '../users/schemas.js';
import { checkSiteNames } from '../users/validation.js';
import type { WebhookDispatcher } from './webhook-dispatcher.js';
import type { DeliveryView, WebhookInput, WebhookRepository } from './webhook-repository.js';
import { parseLimit } from './query.js';
import * as S from './schemas.js';


function checkUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Errors.VALIDATION('url is not a URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Errors.VALIDATION('url must start with http:// or https://');
  return u.toString();
}

type Body = { url?: string; sites?: string[]; secret?: string; enabled?: boolean };

function checked(b: Body): Partial<WebhookInput> {
  return {
    ...(b.url !== undefined ? { url: checkUrl(b.url) } : {}),
    ...(b.sites !== undefined ? { sites: checkSiteNames(b.sites) } : {}),
    ...(b.secret !== undefined ? { secret: b.secret } : {}),
    ...(b.enabled !== undefined ? { enabled: b.enabled } : {}),
  };
}

export function webhookRoutes(repo: WebhookRepository, dispatcher: WebhookDispatcher, authenticator: Authenticator): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const admin = [requireAuth(authenticator), requireAdmin];
    const adminErrors = { 401: errors[401], 403: errors[403], 503: errors[503] };
    const notFound = (id: number) => new Errors.NOT_FOUND(`webhook ${id} not found`);
    const one = async (id: number) => {
      const w = await inDatabase(() => repo.get(id));
      if (!w) throw notFound(id);
      return w;
    };

    app.get(
      '/webhooks',
      {
        onRequest: admin,
        schema: {
          tags: ['webhooks'],
          summary: 'All webhooks, with their delivery counts and last error',
          security: bearer,
          response: { 200: { type: 'object', properties: { webhooks: { type: 'array', items: S.webhook } }, required: ['webhooks'] }, ...adminErrors },
        },
      },
      async () => ({ webhooks: await inDatabase(() => repo.list()) }),
    );

    app.post<{ Body: Body & { url: string } }>(
      '/webhooks',
      {
        onRequest: admin,
        schema: {
          tags: ['webhooks'],
          summary: 'Add a webhook: each new event of its sites is POSTed to it, signed (README: Webhooks)',
          description: 'The secret is shown in this answer only (generated when omitted).',
          security: bearer,
          body: S.webhookBody,
          response: { 201: S.createdWebhook, ...adminErrors, 422: errors[422] },
        },
      },
      async (req, reply) => {
        const input = checked(req.body);
        const secret = input.secret ?? randomBytes(24).toString('base64url');
        const id = await inDatabase(() => repo.create({ url: input.url!, sites: input.sites ?? [], secret, enabled: input.enabled ?? true }));
        return reply.code(201).send({ ...(await one(id)), secret });
      },
    );

    app.get<{ Params: { id: string } }>(
      '/webhooks/:id',
      {
        onRequest: admin,
        schema: { tags: ['webhooks'], summary: 'One webhook', security: bearer, params: idParams, response: { 200: S.webhook, ...adminErrors, 404: errors[404] } },
      },
      async (req) => one(Number(req.params.id)),
    );

    app.patch<{ Params: { id: string }; Body: Body }>(
      '/webhooks/:id',
      {
        onRequest: admin,
        schema: {
          tags: ['webhooks'],
          summary: 'Change a webhook (a new secret signs the next attempts)',
          security: bearer,
          params: idParams,
          body: S.webhookPatch,
          response: { 200: S.webhook, ...adminErrors, 404: errors[404], 422: errors[422] },
        },
      },
      async (req) => {
        const id = Number(req.params.id);
        if (!(await inDatabase(() => repo.update(id, checked(req.body))))) throw notFound(id);
        dispatcher.wake();
        return one(id);
      },
    );

    app.delete<{ Params: { id: string } }>(
      '/webhooks/:id',
      {
        onRequest: admin,
        schema: {
          tags: ['webhooks'],
          summary: 'Delete a webhook and its deliveries',
          security: bearer,
          params: idParams,
          response: { 204: noContent, ...adminErrors, 404: errors[404] },
        },
      },
      async (req, reply) => {
        const id = Number(req.params.id);
        if (!(await inDatabase(() => repo.delete(id)))) throw notFound(id);
        return reply.code(204).send();
      },
    );

    app.get<{ Params: { id: string }; Querystring: { status?: DeliveryView['status']; limit?: string } }>(
      '/webhooks/:id/deliveries',
      {
        onRequest: admin,
        schema: {
          tags: ['webhooks'],
          summary: 'The webhook’s latest deliveries: attempts, status, last error',
          security: bearer,
          params: idParams,
          querystring: S.deliveriesQuery,
          response: {
            200: { type: 'object', properties: { deliveries: { type: 'array', items: S.delivery } }, required: ['deliveries'] },
            ...adminErrors,
            404: errors[404],
            422: errors[422],
          },
        },
      },
      async (req) => {
        const id = Number(req.params.id);
        await one(id);
        const limit = parseLimit(req.query.limit, 50, 200);
        return { deliveries: await inDatabase(() => repo.deliveries(id, req.query.status, limit)) };
      },
    );
  };
}
