// Schemas of the upload API. UploadOk is a named (`$id`) schema that Fastify serializes with;
// the multipart form is for the OpenAPI document only: the route parses the body itself
// (multipart.ts), so Fastify never validates a body against it.
import { OK_REPLY } from '../frames/wire.js';
import { MAX_KEY_LENGTH } from './validate.js';
import { siteName } from '../users/schemas.js';

export const uploadOkSchema = {
  $id: 'UploadOk',
  type: 'object',
  description: 'The frame was stored and pushed to its viewers',
  properties: {
    status: { type: 'string', enum: [OK_REPLY.status] },
    message: { type: 'string', enum: [OK_REPLY.message] },
  },
  required: ['status', 'message'],
} as const;

const jsonText = (what: string, example: string) => ({
  type: 'string',
  description: `${what}. JSON text, checked for syntax only and stored verbatim.`,
  example,
});

/** POST /frames's multipart/form-data body as the OpenAPI document shows it ("Try it out" sends it). */
export const frameUploadForm = {
  type: 'object',
  description: 'One frame: the image and its metadata, as multipart/form-data fields',
  properties: {
    label: { ...siteName, description: `Site name (the label viewers watch): ${siteName.description}`, example: 'north-gate' },
    key: { type: 'string', minLength: 1, maxLength: MAX_KEY_LENGTH, description: 'Camera name within the site', example: 'cam-1' },
    file: { type: 'string', format: 'binary', description: 'The image: JPEG or PNG bytes (checked by signature)' },
    warnings_json: jsonText(
      'Warnings: an object from warning code to details, or (older producers) a list of sentences',
      '{"warning_no_hardhat": {"count": 2}}',
    ),
    cone_polygons_json: jsonText('Safety-cone polygons: a list of polygons, each a list of [x, y] points', '[[[10, 10], [60, 10], [60, 40]]]'),
    pole_polygons_json: jsonText('Utility-pole polygons: a list of polygons, each a list of [x, y] points', '[]'),
    detection_items_json: jsonText('Detection boxes: a list of [x1, y1, x2, y2, confidence, class_id]; optional, default ""', '[[12, 20, 48, 90, 0.91, 2]]'),
    width: { type: 'integer', minimum: 0, maximum: 999999999, default: 0, description: 'Frame width the pixels refer to; 0 = unknown' },
    height: { type: 'integer', minimum: 0, maximum: 999999999, default: 0, description: 'Frame height the pixels refer to; 0 = unknown' },
  },
  required: ['label', 'key', 'file', 'warnings_json', 'cone_polygons_json', 'pole_polygons_json'],
} as const;
