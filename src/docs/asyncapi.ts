// The AsyncAPI 3.0 document of the WebSocket endpoints (GET /asyncapi.json): channels, messages,
// the JSON headers that precede `--IMG--`, and the close codes with their reasons. The HTTP API is in
// the OpenAPI document (openapi.ts); docs/protocol.md has the same protocol with byte-level examples.
// Written from the service's side: `receive` is what a client sends, `send` what the service sends.
import { DEFAULT_PREVIEW_WIDTH, MAX_FPS, MIN_FPS, MIN_PREVIEW_WIDTH } from '../streaming/viewer-options.js';
import type { FastifyInstance } from 'fastify';
import { Close, CloseReason } from '../errors.js';
import { OK_REPLY } from '../frames/wire.js';

const ref = (path: string) => ({ $ref: `#/${path}` });
const str = (description: string) => ({ type: 'string', description });
const jsonText = (description: string, decoded: string) => ({
  type: 'string',
  contentMediaType: 'application/json',
  description: `${description}: JSON text inside the string, as the producer sent it (may be "" or "[]"). Decoded shape: components.schemas.${decoded}.`,
});
const size = (which: string) => ({
  type: 'string',
  pattern: '^[0-9]+$',
  description: `Frame ${which} in pixels as a decimal string; "0" when unknown (then use the image's own)`,
});

/** Fields of the header the service writes to viewers after the first one (`key` or `id`), in order. */
const viewerMetadata = {
  warnings: jsonText('Warnings', 'Warnings'),
  cone_polygons: jsonText('Safety-cone polygons', 'Polygons'),
  pole_polygons: jsonText('Utility-pole polygons', 'Polygons'),
  detection_items: jsonText('Detection boxes', 'DetectionItems'),
  width: size('width'),
  height: size('height'),
};

const frameLayout =
  'One binary WebSocket message: the header as UTF-8 JSON text, then the 7 bytes `--IMG--` ' +
  '(2d 2d 49 4d 47 2d 2d), then the image bytes (JPEG or PNG) to the end of the message. ' +
  'The message headers below are that JSON header; the payload is the image.';

interface CloseCode {
  code: number;
  reason: string;
  when: string;
}

const authCloses: CloseCode[] = [
  { code: Close.POLICY, reason: CloseReason.MISSING_TOKEN, when: 'No token in the Authorization header or ?token=' },
  { code: Close.POLICY, reason: CloseReason.INVALID_TOKEN, when: 'The token is malformed, badly signed, expired, or not an access token' },
  { code: Close.POLICY, reason: CloseReason.TOKEN_NOT_ACTIVE, when: 'The token’s session has ended (logout, password change, deactivation), at connect or while open' },
  { code: Close.TRY_AGAIN_LATER, reason: 'Service unavailable', when: 'The accounts database or Redis did not answer: retry shortly' },
  { code: Close.GOING_AWAY, reason: CloseReason.SHUTDOWN, when: 'The service is shutting down: reconnect (to another instance)' },
  { code: Close.TRY_AGAIN_LATER, reason: CloseReason.TOO_MANY_SOCKETS, when: 'The user has MAX_SOCKETS_PER_USER sockets open: close one, or retry later' },
];

const viewerCloses: CloseCode[] = [
  ...authCloses,
  { code: Close.POLICY, reason: CloseReason.SITE_FORBIDDEN, when: 'The user may not watch this label (site), at connect or after losing the site' },
  { code: Close.TRY_AGAIN_LATER, reason: CloseReason.TOO_MANY_VIEWERS, when: 'The process has MAX_VIEWERS viewer sockets open' },
  { code: Close.TRY_AGAIN_LATER, reason: CloseReason.STORE_UNAVAILABLE, when: 'The frame store (Redis) could not be read: retry shortly' },
  { code: Close.TRY_AGAIN_LATER, reason: CloseReason.TOO_SLOW, when: 'The viewer completed no write for VIEWER_STALL_MS' },
  { code: Close.TOO_BIG, reason: CloseReason.TOO_BIG, when: 'The viewer sent a message over 64 KiB' },
];

const producerCloses: CloseCode[] = [
  ...authCloses,
  { code: Close.INTERNAL, reason: CloseReason.INTERNAL, when: 'The service failed handling the socket (a bug): reconnect' },
  { code: Close.TOO_BIG, reason: '', when: 'A message over MAX_FRAME_BYTES plus 1 MiB of metadata (closed before it is read)' },
];

const tokenQuery = {
  type: 'object',
  properties: { token: { type: 'string', description: 'Access token, for clients that cannot set headers (browsers); never logged' } },
};
const authHeader = {
  type: 'object',
  properties: { Authorization: { type: 'string', pattern: '^Bearer ', description: 'Bearer <access token>' } },
};
const wsBindings = { ws: { method: 'GET', query: tokenQuery, headers: authHeader, bindingVersion: '0.1.0' } };

/** What a viewer may ask for in its query (streaming/viewer-options.ts); a bad value: HTTP 400 before the upgrade. */
const viewerQuery = (push: boolean) => ({
  type: 'object',
  properties: {
    ...tokenQuery.properties,
    max_fps: { type: 'string', description: `Each camera at most this many times a second (${MIN_FPS} to ${MAX_FPS}), always its newest frame` },
    rendition: { type: 'string', enum: ['full', 'preview'], description: 'preview: the same messages with a downscaled JPEG (width/height stay the original\'s)' },
    preview_width: { type: 'string', description: `Width of previews in pixels, ${MIN_PREVIEW_WIDTH} to PREVIEW_MAX_WIDTH (default ${DEFAULT_PREVIEW_WIDTH})` },
    ...(push
      ? {
          wait: { type: 'string', enum: ['true', 'false'], description: 'true: a label without cameras keeps the socket open and gets its cameras as they start (default false: NoKeys, then close)' },
          with_id: { type: 'string', enum: ['true', 'false'], description: 'true: each header ends with "id", the stream entry id "<ms>-<seq>" (ms: when the frame was stored)' },
        }
      : {}),
  },
});
const viewerBindings = (push: boolean) => ({ ws: { ...wsBindings.ws, query: viewerQuery(push) } });
const security = [ref('components/securitySchemes/bearer'), ref('components/securitySchemes/tokenQuery')];

export interface AsyncapiServer {
  /** host[:port] clients connect to. */
  host: string;
  protocol: 'ws' | 'wss';
}

export function asyncapiDocument(server: AsyncapiServer): Record<string, unknown> {
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Frame streaming service: WebSocket endpoints',
      version: '0.1.0',
      description:
        'Producers upload annotated frames over /ws/frames; viewers watch a site (label) over /ws/labels/{label} ' +
        '(push: every new frame) or one camera over /ws/stream/{label}/{key} (pull: one frame per request). ' +
        'Every socket needs an access token from POST /login, as `Authorization: Bearer` or `?token=`. ' +
        'Operations are written from the service’s side: `receive` is what a client sends, `send` what it gets. ' +
        'Close codes and reasons of each channel are listed in its `x-close-codes`. The HTTP API is at /openapi.json.',
    },
    defaultContentType: 'application/json',
    servers: {
      service: { host: server.host, protocol: server.protocol, description: 'This service', security },
    },
    channels: {
      producerFrames: {
        address: '/ws/frames',
        title: 'Producer upload',
        description:
          'One binary message a frame, each answered with one text message, in order. A bad message gets an error reply ' +
          'and the socket stays open. Accounts: admin (any site), model_manager (its sites).',
        messages: {
          frame: ref('components/messages/ProducerFrame'),
          uploadOk: ref('components/messages/UploadOk'),
          uploadError: ref('components/messages/UploadError'),
        },
        bindings: wsBindings,
        'x-close-codes': producerCloses,
      },
      labelFrames: {
        address: '/ws/labels/{label}',
        title: 'Push viewer of a site',
        description:
          'On connect: the newest frame of every camera of the label, then every new frame exactly once, as it arrives ' +
          '(cameras that start later too). A viewer that falls behind gets the newest frame of each camera (stale ones ' +
          'are skipped). A label without cameras: one NoKeys text message, then close 1000. A camera removed ' +
          '(DELETE /streams/{label}/{key}): one Removed text message.',
        parameters: { label: { description: 'Site name (URL-encoded)' } },
        messages: { frame: ref('components/messages/PushFrame'), noKeys: ref('components/messages/NoKeys'), removed: ref('components/messages/Removed') },
        bindings: viewerBindings(true),
        'x-close-codes': [...viewerCloses, { code: Close.NORMAL, reason: '', when: 'After the NoKeys message' }],
      },
      cameraPull: {
        address: '/ws/stream/{label}/{key}',
        title: 'Pull viewer of one camera',
        description:
          'Each {"action":"pull"} is answered with the newest frame of this camera that this socket has not been sent; ' +
          'when there is none yet, the answer comes as soon as one arrives (pulls made while waiting get that one answer).',
        parameters: { label: { description: 'Site name (URL-encoded)' }, key: { description: 'Camera name (URL-encoded)' } },
        messages: {
          pull: ref('components/messages/PullCommand'),
          ping: ref('components/messages/PingCommand'),
          pong: ref('components/messages/Pong'),
          frame: ref('components/messages/PullFrame'),
          unknownAction: ref('components/messages/UnknownAction'),
          invalidJson: ref('components/messages/InvalidJson'),
        },
        bindings: viewerBindings(false),
        'x-close-codes': [
          ...viewerCloses,
          { code: Close.NORMAL, reason: CloseReason.RECEIVE_TIMEOUT, when: 'Nothing received for PULL_IDLE_TIMEOUT_MS (default 60 s)' },
          { code: Close.NORMAL, reason: CloseReason.STREAM_REMOVED, when: 'The camera was removed (DELETE /streams/{label}/{key})' },
        ],
      },
    },
    operations: {
      uploadFrame: {
        action: 'receive',
        channel: ref('channels/producerFrames'),
        summary: 'A producer uploads a frame',
        security,
        messages: [ref('channels/producerFrames/messages/frame')],
        reply: {
          channel: ref('channels/producerFrames'),
          messages: [ref('channels/producerFrames/messages/uploadOk'), ref('channels/producerFrames/messages/uploadError')],
        },
      },
      pushFrames: {
        action: 'send',
        channel: ref('channels/labelFrames'),
        summary: 'The service pushes each frame of the site to its viewers',
        security,
        messages: [ref('channels/labelFrames/messages/frame'), ref('channels/labelFrames/messages/noKeys'), ref('channels/labelFrames/messages/removed')],
      },
      pullFrame: {
        action: 'receive',
        channel: ref('channels/cameraPull'),
        summary: 'A viewer asks for the next frame of the camera',
        security,
        messages: [ref('channels/cameraPull/messages/pull')],
        reply: { channel: ref('channels/cameraPull'), messages: [ref('channels/cameraPull/messages/frame')] },
      },
      ping: {
        action: 'receive',
        channel: ref('channels/cameraPull'),
        summary: 'Keep-alive',
        security,
        messages: [ref('channels/cameraPull/messages/ping')],
        reply: { channel: ref('channels/cameraPull'), messages: [ref('channels/cameraPull/messages/pong')] },
      },
      rejectCommand: {
        action: 'send',
        channel: ref('channels/cameraPull'),
        summary: 'The answer to text that is not JSON, or to an unknown action (the socket stays open)',
        security,
        messages: [ref('channels/cameraPull/messages/unknownAction'), ref('channels/cameraPull/messages/invalidJson')],
      },
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Access token from POST /login or /refresh' },
        tokenQuery: { type: 'httpApiKey', in: 'query', name: 'token', description: 'The same access token as ?token= (browsers cannot set headers on a WebSocket)' },
      },
      schemas: {
        ProducerFrameHeader: {
          type: 'object',
          description: 'Same fields as POST /frames. Field names end in _json: a newcomer who sends `warnings` gets "warnings_json is required".',
          properties: {
            label: { type: 'string', minLength: 1, maxLength: 256, description: 'Site name' },
            key: { type: 'string', minLength: 1, maxLength: 256, description: 'Camera name' },
            warnings_json: jsonText('Warnings', 'Warnings'),
            cone_polygons_json: jsonText('Safety-cone polygons', 'Polygons'),
            pole_polygons_json: jsonText('Utility-pole polygons', 'Polygons'),
            detection_items_json: { ...jsonText('Detection boxes', 'DetectionItems'), default: '' },
            width: { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^[0-9]{1,9}$' }], default: 0, description: 'Frame width; 0 or absent = unknown' },
            height: { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^[0-9]{1,9}$' }], default: 0, description: 'Frame height; 0 or absent = unknown' },
          },
          required: ['label', 'key', 'warnings_json', 'cone_polygons_json', 'pole_polygons_json'],
        },
        PushFrameHeader: {
          type: 'object',
          description: 'Written like Python json.dumps: ", " and ": " separators, non-ASCII as \\uXXXX. Every value is a string.',
          properties: { key: str('Camera name'), ...viewerMetadata },
          required: ['key', ...Object.keys(viewerMetadata)],
          additionalProperties: false,
        },
        PullFrameHeader: {
          type: 'object',
          description: 'As PushFrameHeader, but the first field is `id` (the stream entry id) instead of `key`.',
          properties: { id: { type: 'string', pattern: '^[0-9]+-[0-9]+$', description: 'Stream entry id, "<ms>-<seq>", increasing within the camera' }, ...viewerMetadata },
          required: ['id', ...Object.keys(viewerMetadata)],
          additionalProperties: false,
        },
        Image: { type: 'string', format: 'binary', description: 'JPEG or PNG bytes, to the end of the message' },
        Warnings: {
          description: 'Decoded warnings: an object from warning code to details (today’s detectors), or a list of sentences (older producers).',
          oneOf: [
            {
              type: 'object',
              additionalProperties: { type: 'object', properties: { count: { type: 'integer', minimum: 0 } } },
              examples: [{ warning_no_hardhat: { count: 2 }, warning_close_to_machinery: { count: 1 } }],
            },
            { type: 'array', items: { type: 'string' }, examples: [['Warning: Someone is not wearing a hardhat!']] },
          ],
        },
        Polygons: {
          type: 'array',
          description: 'Polygons, each a list of [x, y] points in frame pixels',
          items: { type: 'array', items: { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2 } },
          examples: [[[[10, 10], [60, 10], [60, 40]]]],
        },
        DetectionItems: {
          type: 'array',
          description:
            'Boxes [x1, y1, x2, y2, confidence, class_id] in frame pixels; extra columns (a track id) may follow. Classes: 0 Hardhat, ' +
            '1 Mask, 2 NO-Hardhat, 3 NO-Mask, 4 NO-Safety Vest, 5 Person, 6 Safety Cone, 7 Safety Vest, 8 Machinery, 9 Utility Pole, 10 Vehicle.',
          items: { type: 'array', items: { type: 'number' }, minItems: 6 },
          examples: [[[12, 20, 48, 90, 0.91, 2]]],
        },
      },
      messages: {
        ProducerFrame: {
          name: 'ProducerFrame',
          title: 'Frame upload',
          contentType: 'application/octet-stream',
          description: frameLayout,
          headers: ref('components/schemas/ProducerFrameHeader'),
          payload: ref('components/schemas/Image'),
        },
        UploadOk: {
          name: 'UploadOk',
          title: 'Frame stored',
          payload: {
            type: 'object',
            properties: { status: { type: 'string', const: OK_REPLY.status }, message: { type: 'string', const: OK_REPLY.message } },
            required: ['status', 'message'],
          },
          examples: [{ name: 'ok', payload: OK_REPLY }],
        },
        UploadError: {
          name: 'UploadError',
          title: 'Frame refused',
          description:
            'Nothing was stored; the socket stays open. The message names the problem, the code is its stable code from ' +
            'the catalogue (also for an account that may not upload: UPLOAD_FORBIDDEN, SITE_FORBIDDEN).',
          payload: {
            type: 'object',
            properties: { status: { type: 'string', const: 'error' }, message: { type: 'string' }, code: { type: 'string', description: 'Stable code (errors catalogue)' } },
            required: ['status', 'message', 'code'],
          },
          examples: [
            { name: 'missingField', payload: { status: 'error', message: 'warnings_json is required', code: 'VALIDATION' } },
            { name: 'noDelimiter', payload: { status: 'error', message: 'message has no --IMG-- delimiter', code: 'BAD_REQUEST' } },
            { name: 'forbiddenSite', payload: { status: 'error', message: "Not allowed to access site 'north-gate'", code: 'SITE_FORBIDDEN' } },
            { name: 'forbiddenRole', payload: { status: 'error', message: "Role 'user' may not upload frames (uploaders are admin and model_manager)", code: 'UPLOAD_FORBIDDEN' } },
          ],
        },
        PushFrame: {
          name: 'PushFrame',
          title: 'Frame of a camera of the site',
          contentType: 'application/octet-stream',
          description: frameLayout,
          headers: ref('components/schemas/PushFrameHeader'),
          payload: ref('components/schemas/Image'),
        },
        NoKeys: {
          name: 'NoKeys',
          title: 'The label has no cameras',
          payload: { type: 'object', properties: { error: { type: 'string', pattern: "^No keys found for label '.*'$" } }, required: ['error'] },
          examples: [{ name: 'noKeys', payload: { error: "No keys found for label 'north-gate'" } }],
        },
        Removed: {
          name: 'Removed',
          title: 'A camera of the site was removed',
          description: 'Its frames stop; a frame uploaded later starts it again (and is pushed as usual).',
          payload: { type: 'object', properties: { removed: { type: 'string', description: 'The camera (key)' } }, required: ['removed'] },
          examples: [{ name: 'removed', payload: { removed: 'cam-2' } }],
        },
        PullCommand: {
          name: 'PullCommand',
          title: 'Ask for the next frame',
          payload: { type: 'object', properties: { action: { type: 'string', const: 'pull' } }, required: ['action'] },
          examples: [{ name: 'pull', payload: { action: 'pull' } }],
        },
        PingCommand: {
          name: 'PingCommand',
          title: 'Keep-alive',
          description: 'Older browser viewers send {"type":"ping"}: it is answered the same way.',
          payload: {
            oneOf: [
              { type: 'object', properties: { action: { type: 'string', const: 'ping' } }, required: ['action'] },
              { type: 'object', properties: { type: { type: 'string', const: 'ping' } }, required: ['type'] },
            ],
          },
          examples: [{ name: 'ping', payload: { action: 'ping' } }],
        },
        Pong: {
          name: 'Pong',
          title: 'Keep-alive answer',
          payload: { type: 'object', properties: { action: { type: 'string', const: 'pong' } }, required: ['action'] },
          examples: [{ name: 'pong', payload: { action: 'pong' } }],
        },
        PullFrame: {
          name: 'PullFrame',
          title: 'The next frame of the camera',
          contentType: 'application/octet-stream',
          description: frameLayout,
          headers: ref('components/schemas/PullFrameHeader'),
          payload: ref('components/schemas/Image'),
        },
        UnknownAction: {
          name: 'UnknownAction',
          title: 'Unknown command',
          payload: { type: 'object', properties: { error: { type: 'string', const: 'unknown action' } }, required: ['error'] },
          examples: [{ name: 'unknownAction', payload: { error: 'unknown action' } }],
        },
        InvalidJson: {
          name: 'InvalidJson',
          title: 'Command is not JSON',
          payload: { type: 'object', properties: { error: { type: 'string', const: 'Invalid JSON format' } }, required: ['error'] },
          examples: [{ name: 'invalidJson', payload: { error: 'Invalid JSON format' } }],
        },
      },
    },
  };
}

/** GET /asyncapi.json, with this request's host as the server to connect to. */
export async function asyncapiRoute(app: FastifyInstance): Promise<void> {
  app.get(
    '/asyncapi.json',
    {
      schema: {
        tags: ['docs'],
        summary: 'AsyncAPI 3.0 document of the WebSocket endpoints (messages, headers, close codes)',
        produces: ['application/json'],
      },
    },
    async (req) => asyncapiDocument({ host: req.host, protocol: req.protocol === 'https' ? 'wss' : 'ws' }),
  );
}
