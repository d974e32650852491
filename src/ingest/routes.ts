// Producer endpoints (DESIGN.md §2): POST /frames (multipart) and WS /ws/frames (one message a frame).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import type { FrameFields } from '../frames/frame.js';
import type { FrameStore } from '../frames/store.js';
import { OK_REPLY, splitMessage } from '../frames/wire.js';
import type { Authenticator } from '../auth/authenticator.js';
import { socketRoute, type Guard } from '../auth/guard.js';
import { canUpload, canUploadAny, type Principal } from '../auth/principal.js';
import { Close, CloseReason, Errors, rateLimited } from '../errors.js';
import { frameStoreError, socketErrorReply } from '../error-mapping.js';
import { boundaryOf, parseMultipart } from './multipart.js';
import { validateUpload, type RawUpload } from './validate.js';

/** A frame the upload path has stored, as it hands it on (metrics, the safety event recorder). */
export interface StoredUpload {
  label: string;
  key: string;
  fields: FrameFields;
  /** Its entry id in the frame store. */
  id: string;
}

export interface IngestDeps {
  config: Config;
  store: FrameStore;
  authenticator: Authenticator;
  requireAuth: Guard;
  /** Called once per stored frame, synchronously, before the producer is answered: must not block. */
  onStored?: (frame: StoredUpload) => void;
}

/** Room for the metadata fields and multipart framing beside the image. */
export const METADATA_ALLOWANCE = 1024 * 1024;
/** Messages a producer socket may have in flight before we stop reading from it. */
const MAX_IN_FLIGHT = 4;

/** Validates, authorizes and stores one upload; throws a catalogue error and stores nothing on failure. */
async function storeUpload(deps: IngestDeps, principal: Principal, raw: RawUpload, image: Buffer | undefined): Promise<void> {
  const { label, key, fields } = validateUpload(raw, image, deps.config.maxFrameBytes);
  if (!canUpload(principal, label)) throw new Errors.SITE_FORBIDDEN(label);
  let id: string;
  try {
    id = await deps.store.append(label, key, fields);
  } catch (err) {
    throw frameStoreError(err);
  }
  deps.onStored?.({ label, key, fields, id });
}

const okSchema = {
  type: 'object',
  properties: { status: { type: 'string' }, message: { type: 'string' } },
  required: ['status', 'message'],
} as const;

export async function ingestRoutes(app: FastifyInstance, deps: IngestDeps): Promise<void> {
  const bodyLimit = deps.config.maxFrameBytes + METADATA_ALLOWANCE;

  // The body is buffered (bounded by bodyLimit) and parsed in one pass: see multipart.ts.
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));

  // Each upload in progress may hold up to bodyLimit bytes: bound how many are received at once.
  let receiving = 0;
  const uploadSlot = async (_req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (receiving >= deps.config.maxConcurrentUploads) throw rateLimited(1);
    receiving++;
    reply.raw.once('close', () => receiving--); // answered, or the client went away
  };

  app.post(
    '/frames',
    {
      bodyLimit,
      // Cameras upload many times a second: at the default level, log failures, not every upload.
      logLevel: deps.config.logLevel === 'info' ? 'warn' : deps.config.logLevel,
      onRequest: [uploadSlot, deps.requireAuth],
      schema: {
        tags: ['ingest'],
        summary: 'Upload one annotated frame (multipart/form-data)',
        description:
          'Fields: label, key, file (JPEG or PNG), warnings_json, cone_polygons_json, pole_polygons_json, ' +
          'detection_items_json (optional), width, height (optional integers).',
        consumes: ['multipart/form-data'],
        security: [{ bearerAuth: [] }],
        response: { 200: okSchema },
      },
    },
    async (req) => {
      const boundary = boundaryOf(req.headers['content-type']);
      if (!boundary || !Buffer.isBuffer(req.body)) {
        throw new Errors.UNSUPPORTED_MEDIA_TYPE('expected multipart/form-data with a boundary');
      }
      const form = parseMultipart(req.body, boundary);
      const raw = Object.fromEntries(form.fields) as RawUpload;
      await storeUpload(deps, req.principal!, raw, form.files.get('file'));
      return OK_REPLY;
    },
  );

  socketRoute(app, '/ws/frames', deps.authenticator, {}, (ws, req, principal) => {
    if (!canUploadAny(principal)) {
      ws.close(Close.POLICY, CloseReason.UPLOAD_FORBIDDEN);
      return;
    }
    const stop = deps.authenticator.watch(principal, canUploadAny, () => ws.close(Close.POLICY, CloseReason.TOKEN_NOT_ACTIVE));
    ws.once('close', stop);

    // Messages are handled in order, one at a time, so replies keep the order of the uploads.
    let chain: Promise<void> = Promise.resolve();
    let inFlight = 0;
    const handle = async (data: Buffer, isBinary: boolean): Promise<void> => {
      let reply: object = OK_REPLY;
      try {
        if (!isBinary) throw new Errors.BAD_REQUEST('expected a binary message: JSON header, --IMG--, image');
        const parts = splitMessage(data);
        if (!parts) throw new Errors.BAD_REQUEST('message has no --IMG-- delimiter');
        let header: unknown;
        try {
          header = JSON.parse(parts.header);
        } catch {
          throw new Errors.BAD_REQUEST('header is not valid JSON');
        }
        if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new Errors.BAD_REQUEST('header must be a JSON object');
        await storeUpload(deps, principal, header as RawUpload, parts.image);
      } catch (err) {
        const failed = socketErrorReply(err);
        if (failed.unexpected) req.log.error({ err }, 'frame upload over WebSocket failed');
        reply = failed.reply;
      }
      if (ws.readyState === 1) ws.send(JSON.stringify(reply));
    };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      inFlight++;
      if (inFlight >= MAX_IN_FLIGHT) ws.pause(); // backpressure: stop reading until we catch up
      chain = chain.then(() => handle(data, isBinary)).finally(() => {
        inFlight--;
        if (inFlight < MAX_IN_FLIGHT && ws.isPaused) ws.resume();
      });
    });
  });
}
