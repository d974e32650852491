// The OpenAPI document of the HTTP API: GET /openapi.json, browsable (and tried out) at /docs.
// The WebSocket endpoints are described by the AsyncAPI document instead (asyncapi.ts).
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { errorReplySchema } from '../errors.js';
import { statusSchema } from '../api-schemas.js';
import { authSchemas } from '../auth/schemas.js';
import { userSchemas } from '../users/schemas.js';
import { frameUploadForm, uploadOkSchema } from '../ingest/schemas.js';
import { labelsSchema } from '../streaming/routes.js';
import { healthSchema } from '../observability/routes.js';

/** Schemas that routes reference as `{ $ref: 'Name#' }`; each appears by name in components.schemas. */
const namedSchemas = [errorReplySchema, statusSchema, uploadOkSchema, labelsSchema, healthSchema, ...authSchemas, ...userSchemas];

/** Registers the named schemas, the OpenAPI generator and its routes; call before any route. */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  for (const s of namedSchemas) app.addSchema(s);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Frame streaming service',
        version: '0.1.0',
        description:
          'Live annotated frames from site cameras. The WebSocket endpoints (producer upload, push and pull ' +
          'viewers) are described in the AsyncAPI document at /asyncapi.json.',
      },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        // Documentation only (POST /frames parses its multipart body itself).
        schemas: { FrameUpload: frameUploadForm as object },
      },
    },
    // Name each shared schema by its $id instead of def-0, def-1, ...
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
