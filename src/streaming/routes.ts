// Viewer endpoints (DESIGN.md §2): GET /labels, WS /ws/labels/{label} (push), WS /ws/stream/{label}/{key} (pull).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { Config } from '../config.js';
import type { FrameStore } from '../frames/store.js';
import type { StoredFrame } from '../frames/frame.js';
import { pullMessage } from '../frames/wire.js';
import type { Authenticator } from '../auth/authenticator.js';
import { canWatch, type Principal } from '../auth/principal.js';
import { socketRoute } from '../auth/socket-auth.js';
import { Close, CloseReason } from '../errors.js';
import type { Channel, Hub, PullWaiter } from './hub.js';
import type { ViewerSocket } from './viewer-socket.js';

export interface StreamingDeps {
  config: Config;
  store: FrameStore;
  hub: Hub;
  authenticator: Authenticator;
  /** preHandler that authenticates HTTP requests and sets request.principal. */
  requireAuth: (req: FastifyRequest) => Promise<void>;
  /** Route-level rate limit options for GET /labels (from @fastify/rate-limit), if any. */
  labelsRateLimit?: object;
}

const labelParams = {
  type: 'object',
  properties: { label: { type: 'string', minLength: 1 } },
  required: ['label'],
} as const;

/** Options of a push viewer; the token may come here too (socket-auth.ts). */
const pushQuery = {
  type: 'object',
  properties: {
    wait: {
      type: 'string',
      enum: ['true', 'false'],
      description:
        'true: a label with no camera yet keeps the socket open and its cameras are sent as they start. ' +
        'Default false: such a socket gets `{"error":"No keys found for label \'<label>\'"}` and is closed (1000), as the old backend did.',
    },
    with_id: {
      type: 'string',
      enum: ['true', 'false'],
      description:
        'true: each header has one more field after `height`: `id`, the stream entry id (`<ms>-<seq>`; `<ms>` is when the store took the frame, ms since the epoch). Default false: the old header, byte for byte.',
    },
    token: { type: 'string', description: 'The access token, when it is not sent as `Authorization: Bearer` (browsers)' },
  },
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

  app.get(
    '/labels',
    {
      onRequest: deps.requireAuth,
      config: deps.labelsRateLimit ? { rateLimit: deps.labelsRateLimit } : {},
      schema: {
        tags: ['streaming'],
        summary: 'Labels (sites) with at least one live camera that the caller may watch',
        security: [{ bearerAuth: [] }],
        response: {
          200: { type: 'object', properties: { labels: { type: 'array', items: { type: 'string' } } }, required: ['labels'] },
        },
      },
    },
    async (req) => {
      const principal = req.principal!;
      const labels = (await store.labels()).filter((l) => !hidden.some((h) => l.includes(h)) && canWatch(principal, l));
      return { labels };
    },
  );

  socketRoute<{ label: string }, { wait?: 'true' | 'false'; with_id?: 'true' | 'false' }>(
    app,
    '/ws/labels/:label',
    deps.authenticator,
    {
      hide: false,
      tags: ['streaming'],
      summary: 'WebSocket (push viewer): every camera of a label, live',
      description:
        'Connect with a WebSocket upgrade (a plain GET gets 426). Binary messages, one per frame: a UTF-8 JSON header ' +
        '`{"key","warnings","cone_polygons","pole_polygons","detection_items","width","height"}`, the 7 bytes `--IMG--`, the image. ' +
        'On connect the newest frame of every camera, then every new frame once, cameras that start later included. ' +
        'Closes: 1008 missing/invalid/ended token or a site the caller may not watch (with a reason), 1013 too slow or unavailable (retry), 1001 shutdown. ' +
        'Bad query values are refused before the upgrade (422).',
      security: [{ bearerAuth: [] }],
      params: labelParams,
      querystring: pushQuery,
    },
    (ws, req, principal) => {
      const { label } = req.params;
      const wait = req.query.wait === 'true';
      const withId = req.query.with_id === 'true';
      const viewer = admit(deps, ws, req, principal, label);
      if (!viewer) return;
      // Push viewers may send keep-alives; nothing to answer, but nothing large either.
      ws.on('message', (data: Buffer) => {
        if (data.length > MAX_COMMAND_BYTES) viewer.close(Close.TOO_BIG, CloseReason.TOO_BIG);
      });
      void joinFor(deps, ws, req, label).then((ch) => {
        if (!ch) return;
        if (ch.latest.size === 0 && !wait) {
          ws.send(JSON.stringify({ error: `No keys found for label '${label}'` }));
          ws.close(Close.NORMAL);
          return;
        }
        hub.startPush(ch, viewer, withId);
        ws.once('close', () => hub.stopPush(ch, viewer));
      });
    },
  );

  socketRoute<{ label: string; key: string }>(app, '/ws/stream/:label/:key', deps.authenticator, { params: streamParams },
    (ws, req, principal) => {
      const { label, key } = req.params;
      const viewer = admit(deps, ws, req, principal, label);
      if (!viewer) return;
      let lastSentId: string | null = null;
      let waiting = false;
      let ch: Channel | null = null;
      let pullsBeforeJoin = 0;

      const send = (f: StoredFrame): void => {
        lastSentId = f.id;
        viewer.offer(key, pullMessage(f));
      };
      const waiter: PullWaiter = {
        deliver: (f) => {
          waiting = false;
          send(f);
        },
      };
      const pull = (): void => {
        if (!ch) {
          pullsBeforeJoin++;
          return;
        }
        if (waiting) return; // one reply answers every pull made while waiting
        const f = ch.latest.get(key);
        if (f && f.id !== lastSentId) send(f);
        else {
          waiting = true;
          hub.waitFor(ch, key, waiter);
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
        if (ch && waiting) hub.cancelWait(ch, key, waiter);
      });

      void joinFor(deps, ws, req, label).then((joined) => {
        if (!joined) return;
        ch = joined;
        if (pullsBeforeJoin > 0) pull();
      });
    },
  );
}
