// The safety events API: the log (site-scoped like GET /labels: admins see every site, others
// their own), its snapshots, the live stream, reviews, the weekly summary and the retention period.
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticator.js';
import { requireAdmin, requireAuth, requireAuthOrQueryToken } from '../auth/guard.js';
import { canReview, canWatch, type Principal } from '../auth/principal.js';
import { bearer, errors } from '../api-schemas.js';
import { Errors } from '../errors.js';
import { inDatabase } from '../error-mapping.js';
import type { ChangeFeed } from './feed.js';
import { eventView, reviewView, type EventStatus } from './model.js';
import { MAX_SUMMARY_ROWS, type EventsRepository } from './repository.js';
import type { RetentionSweeper } from './retention.js';
import { EventStream } from './stream.js';
import { describeWarning } from './catalogue.js';
import { parseLimit, parseTime } from './query.js';
import * as S from './schemas.js';

export interface EventRoutesDeps {
  repo: EventsRepository;
  feed: ChangeFeed;
  retention: RetentionSweeper;
  authenticator: Authenticator;
  quietMs: number;
  maxStreams: number;
}

const DAY_MS = 86_400_000;
const MAX_SUMMARY_DAYS = 400;

/** The sites a request looks in: the one asked for (when the caller sees it), else all the caller's (null: every site). */
function scope(p: Principal, site: string | undefined): string[] | null {
  if (site !== undefined) {
    if (!canWatch(p, site)) throw new Errors.SITE_FORBIDDEN(site);
    return [site];
  }
  return p.role === 'admin' ? null : [...p.sites];
}

/** The listing's position after an event: "<first seen>-<id>" (checked by the schema). */
function cursorOf(c: string): { firstSeen: number; id: number } {
  const [firstSeen, id] = c.split('-').map(Number) as [number, number];
  return { firstSeen, id };
}

const notFound = (id: number) => new Errors.NOT_FOUND(`event ${id} not found`);

interface ListQuery {
  site?: string;
  camera?: string;
  code?: string;
  status?: string;
  since?: string;
  until?: string;
  q?: string;
  limit?: string;
  cursor?: string;
}

export function eventRoutes(deps: EventRoutesDeps): FastifyPluginAsync {
  const { repo, feed, quietMs } = deps;
  return async (app: FastifyInstance) => {
    const auth = requireAuth(deps.authenticator);
    const authOrQuery = requireAuthOrQueryToken(deps.authenticator);
    const me = (req: FastifyRequest) => req.principal!;
    const { 404: notFoundReply, ...readErrors } = S.eventErrors;

    /** The event when the caller may see it; 404 otherwise (whether it exists elsewhere is not told). */
    const visible = async (p: Principal, id: number) => {
      const row = await inDatabase(() => repo.get(id));
      if (!row || !canWatch(p, row.site)) throw notFound(id);
      return row;
    };

    app.get<{ Querystring: ListQuery }>(
      '/events',
      {
        onRequest: auth,
        schema: {
          tags: ['events'],
          summary: 'Safety events of the sites the caller may see, newest (first seen) first',
          description:
            'Cursor pagination: pass `next_cursor` back as `cursor` for the next (older) page. Pages neither skip nor repeat events while new ones arrive (they go before the first page).',
          security: bearer,
          querystring: S.listQuery,
          response: { 200: S.eventPage, ...readErrors },
        },
      },
      async (req) => {
        const qs = req.query;
        const limit = parseLimit(qs.limit, 50, 200);
        const rows = await inDatabase(() =>
          repo.list({
            sites: scope(me(req), qs.site),
            camera: qs.camera,
            code: qs.code,
            statuses: qs.status?.split(',') as EventStatus[] | undefined,
            since: parseTime(qs.since, 'since'),
            until: parseTime(qs.until, 'until'),
            q: qs.q,
            after: qs.cursor === undefined ? undefined : cursorOf(qs.cursor),
            limit: limit + 1,
          }),
        );
        const page = rows.slice(0, limit);
        const now = Date.now();
        return {
          events: page.map((r) => eventView(r, quietMs, now)),
          next_cursor: rows.length > limit ? `${page[page.length - 1]!.first_seen}-${page[page.length - 1]!.id}` : null,
        };
      },
    );

    app.get<{ Querystring: { site?: string; since?: string; until?: string; tz_offset_minutes?: string } }>(
      '/events/summary',
      {
        onRequest: auth,
        schema: {
          tags: ['events'],
          summary: 'Events per day, camera and warning (by first seen)',
          security: bearer,
          querystring: S.summaryQuery,
          response: { 200: S.summary, ...readErrors },
        },
      },
      async (req) => {
        const qs = req.query;
        const until = parseTime(qs.until, 'until') ?? Date.now();
        const since = parseTime(qs.since, 'since') ?? until - 7 * DAY_MS;
        if (since >= until) throw new Errors.VALIDATION('since must be before until');
        if (until - since > MAX_SUMMARY_DAYS * DAY_MS) throw new Errors.VALIDATION(`at most ${MAX_SUMMARY_DAYS} days at once`);
        const offset = qs.tz_offset_minutes === undefined ? 0 : Number(qs.tz_offset_minutes);
        if (offset < -840 || offset > 840) throw new Errors.VALIDATION('tz_offset_minutes must be between -840 and 840');
        const rows = await inDatabase(() => repo.summary(scope(me(req), qs.site), since, until, offset * 60_000));
        return {
          since: new Date(since).toISOString(),
          until: new Date(until).toISOString(),
          tz_offset_minutes: offset,
          rows: rows.map((r) => ({
            day: new Date(r.day * DAY_MS).toISOString().slice(0, 10),
            site: r.site,
            camera: r.camera,
            code: r.code,
            title: describeWarning(r.code, r.kind, r.peak).title,
            events: r.events,
            frames_seen: r.frames,
            peak_count: r.peak,
          })),
          truncated: rows.length >= MAX_SUMMARY_ROWS,
        };
      },
    );

    // ------------------------------------------------------------ live stream (SSE)

    const streams = new Set<EventStream>();
    app.addHook('preClose', (done) => {
      for (const s of [...streams]) s.end();
      done();
    });

    app.get<{ Querystring: { site?: string; token?: string; last_event_id?: string } }>(
      '/events/stream',
      {
        onRequest: authOrQuery,
        schema: {
          tags: ['events'],
          summary: 'Live feed of new and changed events (Server-Sent Events)',
          description:
            'text/event-stream: each message is `id: <change number>` and `data: {"type":"new"|"update","event":{...}}`. ' +
            'The token may be given as `?token=` (EventSource cannot set headers). On reconnect EventSource sends `Last-Event-ID`; ' +
            'the stream then first replays every event of the caller’s sites changed since, from the database, on any instance. ' +
            'A client too slow to take its messages is disconnected and resumes on reconnect. 503 STREAMS_FULL past EVENT_STREAM_MAX_CLIENTS.',
          security: bearer,
          querystring: S.streamQuery,
          response: { 200: S.mediaReply('An endless stream of events', ['text/event-stream']), ...readErrors },
        },
      },
      async (req, reply) => {
        const p = me(req);
        const site = req.query.site;
        const sites = scope(p, site);
        if (feed.size >= deps.maxStreams) throw Object.assign(new Errors.STREAMS_FULL(), { retryAfter: 5 });
        const lastId = req.headers['last-event-id'] ?? req.query.last_event_id;
        if (lastId !== undefined && (typeof lastId !== 'string' || !/^\d{1,15}$/.test(lastId.trim()))) {
          throw new Errors.VALIDATION('Last-Event-ID must be a change number');
        }
        reply.hijack();
        let stopWatch = () => {};
        const stream = new EventStream({
          repo,
          res: reply.raw,
          sites: sites === null ? null : new Set(sites),
          after: lastId === undefined ? null : Number(lastId),
          quietMs,
          log: req.log,
          onClose: () => {
            feed.remove(stream);
            streams.delete(stream);
            stopWatch();
          },
        });
        // Closed when the session ends or the user loses a site it shows (the client reconnects with its new rights).
        stopWatch = deps.authenticator.watch(p, (fresh) => (sites === null ? fresh.role === 'admin' : sites.every((s) => canWatch(fresh, s))), () => stream.end());
        streams.add(stream);
        feed.add(stream);
        await stream.start(reply.getHeaders());
      },
    );

    // ------------------------------------------------------------ retention (admins)

    const retentionView = async () => {
      const set = await inDatabase(() => repo.retentionMs());
      const def = deps.retention.defaultMs;
      return { retention_seconds: Math.round((set ?? def) / 1000), default_seconds: Math.round(def / 1000), set_by_admin: set !== null };
    };
    const adminErrors = { 401: errors[401], 403: errors[403], 503: errors[503] };

    app.get(
      '/events/retention',
      {
        onRequest: [auth, requireAdmin],
        schema: { tags: ['events'], summary: 'How long events are kept', security: bearer, response: { 200: S.retention, ...adminErrors } },
      },
      retentionView,
    );

    app.put<{ Body: { retention_seconds: number } }>(
      '/events/retention',
      {
        onRequest: [auth, requireAdmin],
        schema: {
          tags: ['events'],
          summary: 'Set how long events are kept',
          description: 'Events last seen longer ago are deleted with their snapshots, reviews and deliveries, at once and then every EVENT_RETENTION_SWEEP_MS.',
          security: bearer,
          body: S.retentionBody,
          response: { 200: S.retention, ...adminErrors, 422: errors[422] },
        },
      },
      async (req) => {
        await inDatabase(() => repo.setRetentionMs(req.body.retention_seconds * 1000));
        deps.retention.sweepSoon();
        return retentionView();
      },
    );

    // ------------------------------------------------------------ one event

    app.get<{ Params: { id: string } }>(
      '/events/:id',
      {
        onRequest: auth,
        schema: {
          tags: ['events'],
          summary: 'One event, with its review audit',
          security: bearer,
          params: S.idParams,
          response: { 200: S.eventWithAudit, ...readErrors, 404: notFoundReply },
        },
      },
      async (req) => {
        const id = Number(req.params.id);
        const row = await visible(me(req), id);
        const audit = await inDatabase(() => repo.reviews(id));
        return { ...eventView(row, quietMs), audit: audit.map(reviewView) };
      },
    );

    for (const [path, which, summary] of [
      ['/events/:id/snapshot.jpg', 'first', 'The snapshot of the event’s first frame'],
      ['/events/:id/peak.jpg', 'peak', 'The snapshot of the frame with the highest count'],
    ] as const) {
      app.get<{ Params: { id: string }; Querystring: { token?: string } }>(
        path,
        {
          onRequest: authOrQuery,
          schema: {
            tags: ['events'],
            summary,
            description: 'The frame as uploaded (JPEG, or PNG with Content-Type image/png). The token may be given as `?token=` (for <img src>).',
            security: bearer,
            params: S.idParams,
            querystring: S.tokenQuery,
            response: { 200: S.mediaReply('The image', ['image/jpeg', 'image/png']), ...readErrors, 404: notFoundReply },
          },
        },
        async (req, reply) => {
          const id = Number(req.params.id);
          const snap = await inDatabase(() => repo.snapshot(id, which));
          if (!snap || !canWatch(me(req), snap.site)) throw new Errors.NOT_FOUND(`event ${id} has no snapshot`);
          const etag = `"${id}-${which}-${snap.takenAt}"`;
          reply.header('etag', etag).header('cache-control', 'private, no-cache');
          if (req.headers['if-none-match'] === etag) return reply.code(304).send();
          return reply.type(snap.contentType).send(snap.image);
        },
      );
    }

    app.patch<{ Params: { id: string }; Body: { status?: EventStatus; note?: string } }>(
      '/events/:id',
      {
        onRequest: auth,
        schema: {
          tags: ['events'],
          summary: 'Review an event: acknowledge, mark a false positive, resolve, and/or add a note',
          description:
            'For admin, model_manager and user of the event’s site (guests read only: 403). Each change is kept in the audit shown with the event. ' +
            'A resolved event is closed: the same warning afterwards opens a new event.',
          security: bearer,
          params: S.idParams,
          body: S.reviewBody,
          response: { 200: S.eventWithAudit, ...readErrors, 404: notFoundReply },
        },
      },
      async (req) => {
        const p = me(req);
        const id = Number(req.params.id);
        const row = await visible(p, id);
        if (!canReview(p, row.site)) throw new Errors.FORBIDDEN('Guests cannot review events');
        const updated = await inDatabase(() => repo.review(id, { userId: p.userId, username: p.username }, req.body));
        if (!updated) throw notFound(id);
        feed.written(Number(updated.change_seq));
        const audit = await inDatabase(() => repo.reviews(id));
        return { ...eventView(updated, quietMs), audit: audit.map(reviewView) };
      },
    );
  };
}
