// The safety-event API from the page: pages of the log, one event with its audit, reviews, snapshot
// addresses, and the live feed (GET /events/stream, Server-Sent Events) kept open across drops,
// token expiry and restarts without losing a change (Last-Event-ID).
import { ApiError } from './api.js';
import { backoffDelay } from './backoff.js';
import { eventsPath, type EventFilters, type EventPage, type EventStatus, type EventWithAudit, type SafetyEvent } from './event-list.js';
import { api, session } from './session.js';

export function listEvents(site: string, filters: EventFilters, cursor: string | null, limit: number): Promise<EventPage> {
  return api<EventPage>('GET', eventsPath(site, filters, { cursor, limit }));
}

export function getEvent(id: number): Promise<EventWithAudit> {
  return api<EventWithAudit>('GET', `/events/${id}`);
}

export function reviewEvent(id: number, status: EventStatus, note: string): Promise<EventWithAudit> {
  return api<EventWithAudit>('PATCH', `/events/${id}`, note.trim() ? { status, note: note.trim() } : { status });
}

/** Whether the signed-in user may review (guests read only; others review the sites they see). */
export function mayReview(): boolean {
  const role = session.user?.role;
  return role !== undefined && role !== 'guest';
}

/** A snapshot's address for <img src> (which cannot send a header: the token goes in the query). */
export function snapshotSrc(path: string): string {
  const token = session.user?.access_token ?? '';
  return `${path}?token=${encodeURIComponent(token)}`;
}

/**
 * An <img> of a snapshot. Its token may have expired by the time a lazy image loads: on an error
 * it asks once more with a fresh one.
 */
export function snapshotImage(path: string, alt: string, className: string): HTMLImageElement {
  const img = document.createElement('img');
  img.className = className;
  img.alt = alt;
  img.decoding = 'async';
  img.loading = 'lazy';
  let retried = false;
  img.addEventListener('error', () => {
    if (retried) return;
    retried = true;
    void session.accessToken().then(() => (img.src = snapshotSrc(path)), () => {});
  });
  img.src = snapshotSrc(path);
  return img;
}

export type LiveState = 'connecting' | 'open' | 'retrying';

export interface LiveHandlers {
  onEvent(type: 'new' | 'update', ev: SafetyEvent): void;
  onState(state: LiveState): void;
}

/**
 * The live feed of one site. EventSource reconnects by itself after a drop and sends the last id
 * it got; but it keeps the address it was opened with, so once the service refuses it (an expired
 * token in the query, a full server) it gives up: then a fresh token is fetched (which ends the
 * session when it cannot be refreshed) and a new one resumes from the last change seen.
 */
export class LiveEvents {
  private source: EventSource | null = null;
  private lastId: string | null = null;
  private attempt = 0;
  private timer: number | null = null;
  private stopped = false;

  constructor(private readonly site: string, private readonly handlers: LiveHandlers) {}

  start(): void {
    void this.open();
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    this.handlers.onState('connecting');
    let token: string;
    try {
      token = await session.accessToken();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return; // the session is over
      return this.retry();
    }
    if (this.stopped) return;
    const q = new URLSearchParams({ site: this.site, token });
    if (this.lastId !== null) q.set('last_event_id', this.lastId);
    const es = new EventSource(`/events/stream?${q.toString()}`);
    this.source = es;
    es.onopen = () => {
      this.attempt = 0;
      this.handlers.onState('open');
    };
    es.onmessage = (e: MessageEvent<string>) => {
      if (e.lastEventId) this.lastId = e.lastEventId;
      let msg: { type?: unknown; event?: SafetyEvent };
      try {
        msg = JSON.parse(e.data) as typeof msg;
      } catch {
        return;
      }
      if ((msg.type === 'new' || msg.type === 'update') && msg.event && typeof msg.event.id === 'number') this.handlers.onEvent(msg.type, msg.event);
    };
    es.onerror = () => {
      if (es.readyState === EventSource.CONNECTING) {
        this.handlers.onState('retrying'); // it reconnects by itself, with Last-Event-ID
        return;
      }
      es.close();
      this.source = null;
      // Refused: an expired or ended session shows up here as a 401. Ask the API who we are: it
      // refreshes the token once, and ends the session (back to the login page) if that fails.
      void api('GET', '/me').then(
        () => this.retry(),
        (err: unknown) => {
          if (!(err instanceof ApiError && err.status === 401)) this.retry();
        },
      );
    };
  }

  private retry(): void {
    if (this.stopped) return;
    this.handlers.onState('retrying');
    this.timer = window.setTimeout(() => void this.open(), backoffDelay(this.attempt++));
  }

  close(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
  }
}
