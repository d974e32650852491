// JSON schemas of the events and webhooks API (validation, serialization and the OpenAPI document).
// The app does not coerce types: query values are strings, checked by pattern.
import { errors } from '../api-schemas.js';
import { STATUSES } from './model.js';
export { idParams } from '../users/schemas.js';

const STATUS_RE = STATUSES.join('|');
const name = (what: string) => ({ type: 'string', minLength: 1, maxLength: 256, description: what }) as const;
const time = (what: string) =>
  ({ type: 'string', maxLength: 40, description: `${what}: an ISO 8601 date-time (e.g. 2026-11-25T08:00:00Z) or epoch milliseconds` }) as const;

export const status = { type: 'string', enum: [...STATUSES] } as const;

const err = (description: string) => ({ $ref: 'Error#', description });
/** Error replies of the events routes. */
export const eventErrors = {
  401: errors[401],
  403: err('A site the caller may not see (SITE_FORBIDDEN), or a guest reviewing (FORBIDDEN)'),
  404: err('No such event, or one of a site the caller may not see (NOT_FOUND)'),
  422: err('A query value or field fails validation (VALIDATION)'),
  503: err('The database is unavailable (DB_UNAVAILABLE); for the stream also too many open streams (STREAMS_FULL, with Retry-After)'),
} as const;

/** A binary or streamed 200 answer, documented with its media types (errors stay JSON). */
export const mediaReply = (description: string, types: string[]) => ({
  description,
  content: Object.fromEntries(types.map((t) => [t, { schema: { type: 'string', format: 'binary' } }])),
});

export const listQuery = {
  type: 'object',
  properties: {
    site: name('Only this site (the caller must see it)'),
    camera: name('Only this camera'),
    code: name('Only this warning code (or sentence)'),
    status: { type: 'string', pattern: `^(${STATUS_RE})(,(${STATUS_RE}))*$`, description: 'Only these statuses, comma-separated' },
    since: time('Only events seen at or after this time'),
    until: time('Only events first seen before this time'),
    q: { type: 'string', maxLength: 200, description: 'Only events whose words, code or camera contain this text (case-insensitive)' },
    limit: { type: 'string', pattern: '^[0-9]{1,3}$', description: 'Page size, 1 to 200 (default 50)' },
    cursor: { type: 'string', pattern: '^[0-9]{1,15}-[0-9]{1,12}$', description: 'next_cursor of the previous page (opaque)' },
  },
  additionalProperties: false,
} as const;

const nullableString = { type: ['string', 'null'] } as const;
const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;

export const event = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    site: { type: 'string' },
    camera: { type: 'string' },
    code: { type: 'string', description: 'Warning code (kind "code"), or the sentence of an older producer (kind "sentence")' },
    kind: { type: 'string', enum: ['code', 'sentence'] },
    title: { type: 'string', description: 'Short English label (viewers translate `code`)' },
    words: { type: 'string', description: 'English words at the peak count' },
    count: { type: 'integer', description: 'Count in the last frame' },
    peak_count: { type: 'integer' },
    first_seen: { type: 'string', format: 'date-time' },
    last_seen: { type: 'string', format: 'date-time' },
    frames_seen: { type: 'integer' },
    ongoing: { type: 'boolean', description: 'Seen within the quiet period: further frames extend it' },
    status,
    note: nullableString,
    reviewed_by: nullableString,
    reviewed_at: nullableTime,
    snapshot_url: { ...nullableString, description: 'JPEG (or PNG) of the first frame; token as Bearer or ?token=' },
    peak_snapshot_url: { ...nullableString, description: 'The frame with the highest count' },
    first_frame_id: { type: 'string' },
    last_frame_id: { type: 'string' },
    seq: { type: 'integer', description: 'Number of its latest change (the live feed’s event id)' },
  },
  required: ['id', 'site', 'camera', 'code', 'kind', 'title', 'words', 'count', 'peak_count', 'first_seen', 'last_seen', 'frames_seen', 'ongoing', 'status', 'seq'],
} as const;

export const review = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    at: { type: 'string', format: 'date-time' },
    user_id: { type: ['integer', 'null'] },
    username: { type: 'string' },
    from_status: { type: 'string' },
    to_status: { type: 'string' },
    note: nullableString,
  },
  required: ['id', 'at', 'username', 'from_status', 'to_status'],
} as const;

export const eventWithAudit = {
  ...event,
  properties: { ...event.properties, audit: { type: 'array', items: review, description: 'Reviews, oldest first' } },
  required: [...event.required, 'audit'],
} as const;

export const eventPage = {
  type: 'object',
  properties: {
    events: { type: 'array', items: event },
    next_cursor: { ...nullableString, description: 'Pass as `cursor` for the next (older) page; null on the last page' },
  },
  required: ['events', 'next_cursor'],
} as const;

export const reviewBody = {
  type: 'object',
  properties: { status, note: { type: 'string', maxLength: 2000 } },
  additionalProperties: false,
  minProperties: 1,
} as const;

export const summaryQuery = {
  type: 'object',
  properties: {
    site: name('Only this site (the caller must see it)'),
    since: time('From (default: 7 days ago)'),
    until: time('Until (default: now)'),
    tz_offset_minutes: { type: 'string', pattern: '^-?[0-9]{1,3}$', description: 'Days start at midnight at this offset from UTC (e.g. 480 for UTC+8); default 0' },
  },
  additionalProperties: false,
} as const;

export const summary = {
  type: 'object',
  properties: {
    since: { type: 'string', format: 'date-time' },
    until: { type: 'string', format: 'date-time' },
    tz_offset_minutes: { type: 'integer' },
    rows: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          day: { type: 'string', description: 'YYYY-MM-DD' },
          site: { type: 'string' },
          camera: { type: 'string' },
          code: { type: 'string' },
          title: { type: 'string' },
          events: { type: 'integer' },
          frames_seen: { type: 'integer' },
          peak_count: { type: 'integer' },
        },
        required: ['day', 'site', 'camera', 'code', 'title', 'events', 'frames_seen', 'peak_count'],
      },
    },
    truncated: { type: 'boolean', description: 'More rows than fit in one answer' },
  },
  required: ['since', 'until', 'tz_offset_minutes', 'rows', 'truncated'],
} as const;

export const streamQuery = {
  type: 'object',
  properties: {
    site: name('Only this site (the caller must see it)'),
    token: { type: 'string', description: 'Access token, for EventSource (which cannot set headers); never logged' },
    last_event_id: { type: 'string', pattern: '^[0-9]{1,15}$', description: 'Resume after this change, as the Last-Event-ID header does' },
  },
  additionalProperties: false,
} as const;

export const tokenQuery = {
  type: 'object',
  properties: { token: { type: 'string', description: 'Access token, for <img src> (which cannot set headers); never logged' } },
  additionalProperties: false,
} as const;

export const retention = {
  type: 'object',
  properties: {
    retention_seconds: { type: 'integer', description: 'Events last seen longer ago than this are deleted, with their snapshots' },
    default_seconds: { type: 'integer', description: 'EVENT_RETENTION_DAYS, used until an admin sets one' },
    set_by_admin: { type: 'boolean' },
  },
  required: ['retention_seconds', 'default_seconds', 'set_by_admin'],
} as const;

export const retentionBody = {
  type: 'object',
  properties: { retention_seconds: { type: 'integer', minimum: 1, maximum: 3_153_600_000 } },
  required: ['retention_seconds'],
  additionalProperties: false,
} as const;

// ---------------------------------------------------------------- webhooks

const siteList = { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 1000, description: 'Sites whose new events it gets; [] = every site' } as const;
const url = { type: 'string', minLength: 8, maxLength: 2048, pattern: '^https?://', description: 'http:// or https:// URL the events are POSTed to' } as const;
const secret = { type: 'string', minLength: 16, maxLength: 255, description: 'HMAC-SHA256 key of the signature (at least 16 characters)' } as const;

export const webhook = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    url: { type: 'string' },
    sites: { type: 'array', items: { type: 'string' } },
    enabled: { type: 'boolean' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
    last_success_at: nullableTime,
    last_error: { ...nullableString, description: 'The last failed attempt’s error' },
    last_error_at: nullableTime,
    deliveries: {
      type: 'object',
      properties: { pending: { type: 'integer' }, delivered: { type: 'integer' }, failed: { type: 'integer' } },
      required: ['pending', 'delivered', 'failed'],
    },
  },
  required: ['id', 'url', 'sites', 'enabled', 'created_at', 'updated_at', 'deliveries'],
} as const;

export const createdWebhook = {
  ...webhook,
  properties: { ...webhook.properties, secret: { type: 'string', description: 'Shown once: keep it to verify signatures' } },
  required: [...webhook.required, 'secret'],
} as const;

export const webhookBody = {
  type: 'object',
  properties: { url, sites: siteList, secret: { ...secret, description: `${secret.description}; generated when omitted` }, enabled: { type: 'boolean' } },
  required: ['url'],
  additionalProperties: false,
} as const;

export const webhookPatch = {
  type: 'object',
  properties: { url, sites: siteList, secret, enabled: { type: 'boolean' } },
  additionalProperties: false,
  minProperties: 1,
} as const;

export const deliveriesQuery = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
    limit: { type: 'string', pattern: '^[0-9]{1,3}$', description: '1 to 200 (default 50)' },
  },
  additionalProperties: false,
} as const;

export const delivery = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    event_id: { type: 'integer' },
    status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
    attempts: { type: 'integer' },
    created_at: { type: 'string', format: 'date-time' },
    next_attempt_at: nullableTime,
    finished_at: nullableTime,
    last_status: { type: ['integer', 'null'], description: 'HTTP status of the last attempt' },
    last_error: nullableString,
  },
  required: ['id', 'event_id', 'status', 'attempts', 'created_at'],
} as const;
