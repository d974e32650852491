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
import { frameStoreError, httpReply, socketErrorReply } from '../error-mapping.js';
import { decodeUtf8 } from '../lib/utf8.js';
import { BodyDeadlines, collectBody } from './body.js';
import { readUploadForm } from './form.js';
import { boundaryOf, parseMultipart, type MultipartLimits } from './multipart.js';
import { RejectionLog, type Rejection } from './rejection-log.js';
import { UploadSlots, type SlotRefusal } from './upload-slots.js';
import type { ProducerSockets } from './producer-sockets.js';
import { METADATA_FIELDS, UploadProblems, validateUpload, type RawUpload, type UploadLimits } from './validate.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** What a POST /frames named (label, key...), for its rejection's log line. */
    upload?: RawUpload;
  }
}

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
  /** Where each producer socket says how it ends (for a shutdown). */
  producers: ProducerSockets;
}

/**
 * Room beside the image for the metadata fields and the framing, in a multipart body or a socket
 * message. In a socket message's JSON header the metadata is escaped: up to 3 bytes per byte
 * (json.dumps writes é, 2 bytes, as \u00e9).
 */
export function metadataAllowance(config: Pick<Config, 'maxMetadataBytes'>): number {
  return METADATA_FIELDS.length * 3 * config.maxMetadataBytes + 64 * 1024;
}

/** An upload has 9 fields: room for a few unknown ones, not for thousands. */
const MAX_PARTS = 32;
/** Messages a producer socket may have in flight before we stop reading from it. */
const MAX_IN_FLIGHT = 4;

const SLOT_REFUSALS: Record<SlotRefusal, string> = {
  total: 'Too many uploads in progress (MAX_CONCURRENT_UPLOADS)',
  user: 'Too many uploads in progress for this user (MAX_UPLOADS_PER_USER)',
  address: 'Too many uploads in progress from this address (MAX_UPLOADS_PER_ADDRESS)',
};

/**
 * Authorizes, validates and stores one upload; throws a catalogue error and stores nothing on
 * failure: 403 UPLOAD_FORBIDDEN for a role that never uploads, every problem of the upload at once,
 * then 403 SITE_FORBIDDEN for a site the account may not upload to.
 */
async function storeUpload(deps: IngestDeps, limits: UploadLimits, principal: Principal, raw: RawUpload, image: Buffer | undefined, problems?: UploadProblems): Promise<void> {
  if (!canUploadAny(principal)) throw new Errors.UPLOAD_FORBIDDEN(principal.role);
  const { label, key, fields } = validateUpload(raw, image, limits, problems);
  if (!canUpload(principal, label)) throw new Errors.SITE_FORBIDDEN(label);
  let id: string;
  try {
    id = await deps.store.append(label, key, fields);
  } catch (err) {
    throw frameStoreError(err);
  }
  deps.onStored?.({ label, key, fields, id });
}

const error = (description: string) => ({ $ref: 'Error#', description });

/** A producer socket's message: JSON header (strict UTF-8), `--IMG--`, image. */
function readMessage(data: Buffer, isBinary: boolean): { header: RawUpload; image: Buffer } {
  if (!isBinary) throw new Errors.BAD_REQUEST('expected a binary message: JSON header, --IMG--, image');
  const parts = splitMessage(data);
  if (!parts) throw new Errors.BAD_REQUEST('message has no --IMG-- delimiter');
  const text = decodeUtf8(parts.header);
  if (text === null) throw new Errors.BAD_REQUEST('header is not valid UTF-8');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch {
    throw new Errors.BAD_REQUEST('header is not valid JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new Errors.BAD_REQUEST('header must be a JSON object');
  return { header: header as RawUpload, image: parts.image };
}

export async function ingestRoutes(app: FastifyInstance, deps: IngestDeps): Promise<void> {
  const { config } = deps;
  const bodyLimit = config.maxFrameBytes + metadataAllowance(config);
  const limits: UploadLimits = { maxFrameBytes: config.maxFrameBytes, maxMetadataBytes: config.maxMetadataBytes };
  const multipartLimits: MultipartLimits = { maxParts: MAX_PARTS, maxHeaderBytes: config.maxPartHeaderBytes };
  const slots = new UploadSlots({ total: config.maxConcurrentUploads, perUser: config.maxUploadsPerUser, perAddress: config.maxUploadsPerAddress });
  const rejections = new RejectionLog(app.log);
  const deadlines = new BodyDeadlines(config.uploadBodyTimeoutMs);
  app.addHook('onClose', async () => {
    rejections.close();
    deadlines.close();
  });

  // The body is collected (bounded in size and time, see body.ts) and parsed in one pass: see multipart.ts.
  app.addContentTypeParser('multipart/form-data', { bodyLimit }, (req, payload, done) => {
    const length = req.headers['content-length'];
    collectBody(payload, length === undefined ? undefined : Number(length), { maxBytes: bodyLimit, deadlines }, done);
  });

  // Everything that can be decided from the headers is, before the body is read (and before a
  // client that sent Expect: 100-continue is told to send it): role, media type, declared size,
  // and a slot among the uploads being received (each may hold up to bodyLimit bytes).
  const refusal = (req: FastifyRequest, reply: FastifyReply): Error | undefined => {
    const principal = req.principal!;
    if (!canUploadAny(principal)) return new Errors.UPLOAD_FORBIDDEN(principal.role);
    const type = req.headers['content-type'];
    if (!/^multipart\/form-data\s*(;|$)/i.test(type ?? '') || !boundaryOf(type)) {
      return new Errors.UNSUPPORTED_MEDIA_TYPE('expected multipart/form-data with a boundary');
    }
    if (Number(req.headers['content-length']) > bodyLimit) return new Errors.PAYLOAD_TOO_LARGE(`request body is larger than ${bodyLimit} bytes`);
    const slot = slots.acquire(principal.userId, req.ip);
    if (typeof slot === 'string') return rateLimited(1, SLOT_REFUSALS[slot]);
    reply.raw.once('close', slot); // answered, or the client went away
    return undefined;
  };
  const admit = (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => done(refusal(req, reply));

  const reject = (r: Omit<Rejection, 'code' | 'detail'>, err: unknown): void => {
    const e = err as { code?: unknown; message?: unknown };
    rejections.record({ ...r, code: typeof e.code === 'string' ? e.code : 'BAD_REQUEST', detail: typeof e.message === 'string' ? e.message : '' });
  };

  app.post(
    '/frames',
    {
      bodyLimit,
      // A producer's upload reply is never rendered by a browser: no security headers (helmet's
      // dozen headers measured as a tenth of an upload's CPU on the ingest bench).
      helmet: false,
      onRequest: [deps.requireAuth, admit],
      // Each rejected upload once, at warn (5xx are logged as failures by the error handler).
      onError: async (req, _reply, err) => {
        if (httpReply(err).status >= 500) return;
        const raw = req.upload;
        reject({ user: req.principal?.username ?? null, address: req.ip, via: 'POST /frames', label: raw?.label, key: raw?.key }, err);
      },
      schema: {
        tags: ['ingest'],
        summary: 'Upload one annotated frame (multipart/form-data)',
        description:
          'Fields: label, key, file (JPEG or PNG), warnings_json, cone_polygons_json, pole_polygons_json, ' +
          'detection_items_json (optional), width, height (optional integers); each field at most once. Accounts: ' +
          'admin (any site), model_manager (its sites). The frame is pushed to the viewers of the label at once.',
        consumes: ['multipart/form-data'],
        security: [{ bearerAuth: [] }],
        response: {
          200: { $ref: 'UploadOk#' },
          400: error('Malformed multipart body (BAD_REQUEST)'),
          401: error('Missing, invalid, expired or revoked token'),
          403: error('This account may not upload to this site (SITE_FORBIDDEN)'),
          413: error('Image or body too large (PAYLOAD_TOO_LARGE)'),
          415: error('Not multipart/form-data, or the file is neither JPEG nor PNG (UNSUPPORTED_MEDIA_TYPE, NOT_AN_IMAGE)'),
          422: error('A field is missing or invalid (VALIDATION)'),
          429: error('Too many uploads in progress; retry after Retry-After seconds (RATE_LIMITED)'),
          503: error('Frame store unavailable; retry shortly (STORE_UNAVAILABLE)'),
        },
      },
      // The body is parsed by multipart.ts, not validated by Fastify: the form schema is added
      // for the OpenAPI document only, so that /docs can send a real upload.
      config: {
        swaggerTransform: ({ schema, url }) => ({ url, schema: { ...schema, body: { $ref: '#/components/schemas/FrameUpload' } } as typeof schema }),
      },
    },
    async (req) => {
      if (!Buffer.isBuffer(req.body)) throw new Errors.UNSUPPORTED_MEDIA_TYPE('expected multipart/form-data with a boundary');
      const parts = parseMultipart(req.body, boundaryOf(req.headers['content-type'])!, multipartLimits);
      const problems = new UploadProblems();
      const form = readUploadForm(parts, problems);
      req.upload = form.raw;
      await storeUpload(deps, limits, req.principal!, form.raw, form.image, problems);
      return OK_REPLY;
    },
  );

  socketRoute(app, '/ws/frames', deps.authenticator, {}, (ws, req, opened) => {
    // The socket stays open whatever the account may upload (a frame it may not upload is answered
    // with an error, as any bad message is); only the end of its session closes it. Each frame is
    // judged with the newest rights the watch has seen, so a role or sites change counts at once.
    // A frame is stored only while its answer can still be sent (see producer-sockets.ts).
    let principal = opened;
    let ended = false;
    // Messages are handled in order, one at a time, so replies keep the order of the uploads.
    let chain: Promise<void> = Promise.resolve();
    let inFlight = 0;
    const end = (code: number, reason: string) => {
      if (ended) return;
      ended = true; // frames received from now on are not stored: the producer sends them again
      void chain.finally(() => ws.close(code, reason)); // after the frame being stored is answered
    };
    deps.producers.add(ws, end);
    const stop = deps.authenticator.watch(
      opened,
      (fresh) => {
        principal = fresh;
        return true;
      },
      () => end(Close.POLICY, CloseReason.TOKEN_NOT_ACTIVE),
    );
    ws.once('close', stop);
    const who = () => ({ user: principal.username, address: req.ip, via: 'WS /ws/frames' as const });
    // ws closes a message over maxPayload with 1009 before we see it: still a rejected upload.
    ws.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') reject(who(), new Errors.PAYLOAD_TOO_LARGE(`message is larger than ${config.maxFrameBytes + metadataAllowance(config)} bytes`));
    });

    const handle = async (data: Buffer, isBinary: boolean): Promise<void> => {
      if (ended || ws.readyState !== ws.OPEN) return;
      let reply: object = OK_REPLY;
      let header: RawUpload | undefined;
      try {
        const message = readMessage(data, isBinary);
        header = message.header;
        await storeUpload(deps, limits, principal, header, message.image);
      } catch (err) {
        const failed = socketErrorReply(err);
        if (failed.unexpected) req.log.error({ err }, 'frame upload over WebSocket failed');
        else if (failed.clientError) reject({ ...who(), label: header?.label, key: header?.key }, err);
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
