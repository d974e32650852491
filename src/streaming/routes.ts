// Viewer endpoints (DESIGN.md §2): GET /labels, WS /ws/labels/{label} (push), WS /ws/stream/{label}/{key} (pull).
// Both sockets take `max_fps`, `rendition` and `preview_width` (viewer-options.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RateLimitOptions } from '@fastify/rate-limit';
import type { WebSocket } from 'ws';
import type { Config } from '../config.js';
import type { FrameStore } from '../frames/store.js';
import type { StoredFrame, ViewerMessage } from '../frames/frame.js';
import { previewPullMessage, pullMessage } from '../frames/wire.js';
import { compareIds } from '../frames/keys.js';
import type { PreviewSubscriber } from '../previews/maker.js';
import type { Authenticator } from '../auth/authenticator.js';
import { socketRoute, type Guard } from '../auth/guard.js';
import { canWatch, type Principal } from '../auth/principal.js';
import { Close, CloseReason, rateLimited } from '../errors.js';
import type { Channel, Hub, PullWaiter } from './hub.js';
import type { ViewerSocket } from './viewer-socket.js';
import { isFullRate, parseViewerOptions, type ViewerOptions } from './viewer-options.js';

export interface StreamingDeps {
  config: Config;
  store: FrameStore;
  hub: Hub;
  authenticator: Authenticator;
  /** Authenticates HTTP requests and sets request.principal. */
  requireAuth: Guard;
}

/**
 * GET /labels is limited per user (DESIGN.md §3; the old backend allowed 60 a minute), after the
 * route's requireAuth so that request.principal is known; in Redis when configured, so that every
 * instance shares the count (see the plugin's registration in app.ts).
 */
function labelsRateLimit(config: Pick<Config, 'labelsRateMax' | 'labelsRateWindowMs'>): RateLimitOptions {
  return {
    max: config.labelsRateMax,
    timeWindow: config.labelsRateWindowMs,
    hook: 'preHandler',
    keyGenerator: (req: FastifyRequest) => (req.principal ? `labels:u:${req.principal.userId}` : `labels:ip:${req.ip}`),
    errorResponseBuilder: (_req, ctx) => rateLimited(ctx.ttl / 1000),
  };
}

/** GET /labels's reply, a named schema (see docs/openapi.ts). */
export const labelsSchema = {
  $id: 'Labels',
  type: 'object',
  properties: { labels: { type: 'array', items: { type: 'string' }, description: 'Sorted site names' } },
  required: ['labels'],
} as const;

const labelParams = {
  type: 'object',
  properties: { label: { type: 'string', minLength: 1 } },
  required: ['label'],
} as const;

const streamParams = {
  type: 'object',
  properties: { label: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 } },
  required: ['label', 'key'],
} as const;

/** Opens a viewer: refuses a forbidden site (1008) or a full server (1013). */
function admit(deps: StreamingDeps, ws: WebSocket, req: FastifyRequest, principal: Principal, label: string): ViewerSocket | null {
  if (!canWatch(principal, label)) {
    ws.close(Close.POLICY, CloseReason.SITE_FORBIDDEN);
    return null;
  }
  if (deps.hub.full) {
    ws.close(Close.TRY_AGAIN_LATER, CloseReason.TOO_MANY_VIEWERS);
    return null;
  }
  const viewer = deps.hub.addViewer(ws, req.raw.socket);
  // Close the socket when its session ends or the user loses the site.
  const stop = deps.authenticator.watch(principal, (p) => canWatch(p, label), (why) =>
    viewer.close(Close.POLICY, why === 'session' ? CloseReason.TOKEN_NOT_ACTIVE : CloseReason.SITE_FORBIDDEN),
  );
  ws.once('close', stop);
  return viewer;
}

/** Joins a channel for a socket, leaving it when the socket closes; null (socket closed) on failure. */
async function joinFor(deps: StreamingDeps, ws: WebSocket, req: FastifyRequest, label: string): Promise<Channel | null> {
  try {
    const ch = await deps.hub.join(label);
    if (ws.readyState !== 1) {
      deps.hub.leave(ch);
      return null;
    }
    ws.once('close', () => deps.hub.leave(ch));
    return ch;
  } catch (err) {
    req.log.warn({ err, label }, 'could not subscribe to label');
    ws.close(Close.TRY_AGAIN_LATER, CloseReason.STORE_UNAVAILABLE);
    return null;
  }
}

/** Viewers only send small commands; the socket-wide limit is sized for producers' frames. */
const MAX_COMMAND_BYTES = 64 * 1024;

function parseCommand(data: Buffer, isBinary: boolean): { action?: unknown; type?: unknown } | null {
  if (isBinary) return {};
  try {
    const v: unknown = JSON.parse(data.toString('utf8'));
    return v !== null && typeof v === 'object' ? (v as { action?: unknown; type?: unknown }) : {};
  } catch {
    return null;
  }
}

export async function streamingRoutes(app: FastifyInstance, deps: StreamingDeps): Promise<void> {
  const { config, store, hub } = deps;
  const hidden = config.hiddenLabelSubstrings;
  const readOptions = (query: unknown): ViewerOptions => parseViewerOptions(query, config.previewMaxWidth);

  app.get(
    '/labels',
    {
      onRequest: deps.requireAuth,
      config: { rateLimit: labelsRateLimit(config) },
      schema: {
        tags: ['streaming'],
        summary: 'Labels (sites) with at least one live camera that the caller may watch',
        security: [{ bearerAuth: [] }],
        response: {
          200: { $ref: 'Labels#' },
          401: { $ref: 'Error#', description: 'Missing, invalid, expired or revoked token' },
          429: { $ref: 'Error#', description: 'Too many requests; see Retry-After (RATE_LIMITED)' },
        },
      },
    },
    async (req) => {
      const principal = req.principal!;
      const labels = (await store.labels()).filter((l) => !hidden.some((h) => l.includes(h)) && canWatch(principal, l));
      return { labels };
    },
  );

  socketRoute<{ label: string }, ViewerOptions>(app, '/ws/labels/:label', deps.authenticator, { params: labelParams },
    (ws, req, principal, opts) => {
      const { label } = req.params;
      const viewer = admit(deps, ws, req, principal, label);
      if (!viewer) return;
      // Push viewers may send keep-alives; nothing to answer, but nothing large either.
      ws.on('message', (data: Buffer) => {
        if (data.length > MAX_COMMAND_BYTES) viewer.close(Close.TOO_BIG, CloseReason.TOO_BIG);
      });
      void joinFor(deps, ws, req, label).then((ch) => {
        if (!ch) return;
        if (ch.latest.size === 0 && !opts.wait) {
          ws.send(JSON.stringify({ error: `No keys found for label '${label}'` }));
          ws.close(Close.NORMAL);
          return;
        }
        if (isFullRate(opts)) {
          hub.startPush(ch, viewer, opts.withId);
          ws.once('close', () => hub.stopPush(ch, viewer));
        } else {
          ws.once('close', hub.startFeed(ch, viewer, opts));
        }
      });
    },
    readOptions,
  );

  socketRoute<{ label: string; key: string }, ViewerOptions>(app, '/ws/stream/:label/:key', deps.authenticator, { params: streamParams },
    (ws, req, principal, opts) => {
      const { label, key } = req.params;
      const viewer = admit(deps, ws, req, principal, label);
      if (!viewer) return;
      const intervalMs = opts.maxFps === null ? 0 : 1000 / opts.maxFps;
      let lastSentId: string | null = null;
      let lastSentAt = -Infinity;
      // Waiting for a new frame, for the rate cap or for a preview: one reply answers every pull made meanwhile.
      let busy = false;
      let waiting = false;
      let capTimer: NodeJS.Timeout | null = null;
      let ch: Channel | null = null;
      let pullsBeforeJoin = 0;

      const send = (f: StoredFrame, msg: ViewerMessage): void => {
        lastSentId = f.id;
        lastSentAt = performance.now();
        viewer.offer(key, msg);
      };
      const waiter: PullWaiter = {
        deliver: () => {
          waiting = false;
          busy = false;
          pull();
        },
      };
      // The preview of the newest frame (or of a newer one, when it came first).
      const previewer: PreviewSubscriber = {
        get active() {
          return viewer.open;
        },
        deliver: (f, p) => {
          busy = false;
          if (lastSentId === null || compareIds(f.id, lastSentId) > 0) send(f, previewPullMessage(f, p));
          else pull();
        },
      };
      const pull = (): void => {
        if (!ch) {
          pullsBeforeJoin++;
          return;
        }
        if (busy) return;
        const f = ch.latest.get(key);
        if (!f || f.id === lastSentId) {
          busy = waiting = true;
          hub.waitFor(ch, key, waiter);
          return;
        }
        const early = lastSentAt + intervalMs - performance.now();
        if (early > 0) {
          busy = true;
          capTimer = setTimeout(() => {
            capTimer = null;
            busy = false;
            pull();
          }, early);
          return;
        }
        if (opts.rendition === 'full') send(f, pullMessage(f));
        else {
          busy = true;
          hub.previews.want(f, opts.previewWidth, previewer);
        }
      };

      // The old backend closed a pull socket that sent nothing for 60 s.
      let idle: NodeJS.Timeout | null = null;
      if (config.pullIdleTimeoutMs > 0) {
        idle = setTimeout(() => viewer.close(Close.NORMAL, CloseReason.RECEIVE_TIMEOUT), config.pullIdleTimeoutMs);
      }

      ws.on('message', (data: Buffer, isBinary: boolean) => {
        idle?.refresh();
        if (data.length > MAX_COMMAND_BYTES) return viewer.close(Close.TOO_BIG, CloseReason.TOO_BIG);
        const cmd = parseCommand(data, isBinary);
        if (cmd === null) ws.send('{"error":"Invalid JSON format"}');
        else if (cmd.action === 'ping' || cmd.type === 'ping') ws.send('{"action":"pong"}');
        else if (cmd.action === 'pull') pull();
        else ws.send('{"error":"unknown action"}');
      });
      ws.once('close', () => {
        if (idle) clearTimeout(idle);
        if (capTimer) clearTimeout(capTimer);
        if (ch && waiting) hub.cancelWait(ch, key, waiter);
      });

      void joinFor(deps, ws, req, label).then((joined) => {
        if (!joined) return;
        ch = joined;
        hub.addPull(joined, key, viewer);
        if (pullsBeforeJoin > 0) pull();
      });
    },
    readOptions,
  );
}
