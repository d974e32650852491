// DELETE /streams/{label}/{key}: a producer (or an admin) takes a stopped camera off the site at
// once, instead of it lingering in GET /labels for STREAM_IDLE_MS. The old backend's producers did
// this by deleting the camera's Redis key, which has no equivalent without Redis.
import type { FastifyInstance } from 'fastify';
import type { FrameStore } from '../frames/store.js';
import { canUpload } from '../auth/principal.js';
import type { Guard } from '../auth/guard.js';
import { Errors } from '../errors.js';
import { frameStoreError } from '../error-mapping.js';
import { bearer, errors, noContent } from '../api-schemas.js';
import { MAX_KEY_LENGTH } from './validate.js';
import { siteName } from '../users/schemas.js';

const key = { type: 'string', minLength: 1, maxLength: MAX_KEY_LENGTH } as const;

export async function streamRemovalRoute(app: FastifyInstance, deps: { store: FrameStore; requireAuth: Guard }): Promise<void> {
  app.delete<{ Params: { label: string; key: string } }>(
    '/streams/:label/:key',
    {
      onRequest: deps.requireAuth,
      schema: {
        tags: ['ingest'],
        summary: 'Remove a camera from its site',
        description:
          'Removes the camera from every store and instance: it leaves GET /labels at once, push viewers of the site get ' +
          'a text message {"removed": "<key>"}, and pull sockets of the camera are closed (1000, "Stream removed"). ' +
          'Allowed to those who may upload to the site (its model managers, and admins). A frame uploaded later starts it again.',
        security: bearer,
        params: { type: 'object', properties: { label: siteName, key }, required: ['label', 'key'] },
        response: { 204: noContent, 401: errors[401], 403: errors[403], 404: errors[404], 503: errors[503] },
      },
    },
    async (req, reply) => {
      const { label, key } = req.params;
      if (!canUpload(req.principal!, label)) throw new Errors.FORBIDDEN(`Not allowed to remove cameras of site '${label}'`);
      let removed: boolean;
      try {
        removed = await deps.store.remove(label, key);
      } catch (err) {
        throw frameStoreError(err);
      }
      if (!removed) throw new Errors.NOT_FOUND(`site '${label}' has no camera '${key}'`);
      req.log.info({ user: req.principal!.username, label, key }, 'camera removed');
      return reply.code(204).send();
    },
  );
}
