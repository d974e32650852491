// The site's safety events beside the live wall: the newest first, each with its snapshot and its
// words in the page's language, new ones arriving live (GET /events/stream); a click opens the
// camera large. The live feed is opened before the first page is asked for, so nothing that
// happens in between is missed; the list merges the two by each event's change number.
import { h } from '../dom.js';
import { errorMessage } from '../errors.js';
import { EventList, type SafetyEvent } from '../event-list.js';
import { listEvents, LiveEvents, snapshotImage, type LiveState } from '../events.js';
import { formatTime, lookup, onLanguageChange, t, tr } from '../i18n.js';
import { routeHash } from '../routes.js';
import { eventWarning } from '../warnings.js';

/** Events the panel shows (the history page has them all). */
const SHOWN = 30;

export function eventSentence(ev: SafetyEvent): string {
  return eventWarning(ev.code, ev.kind, ev.peak_count, lookup).sentence;
}

export class EventsPanel {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private readonly note: HTMLElement;
  private readonly events = new EventList(SHOWN);
  private readonly items = new Map<number, HTMLElement>();
  private readonly live: LiveEvents;
  private readonly offLanguage: () => void;
  private loaded = false;
  private loading = false;
  private error: string | null = null;
  private state: LiveState = 'connecting';

  constructor(private readonly site: string, private readonly onOpen: (camera: string) => void) {
    this.list = h('ol', { class: 'event-list' });
    this.note = h('p', { class: 'event-note' });
    this.el = h(
      'section',
      { class: 'events-panel', dataset: { state: 'connecting' }, attrs: { 'aria-label': t('events.title') } },
      h('div', { class: 'events-head' }, h('h2', null, tr('events.title')), h('a', { class: 'events-history', href: routeHash({ name: 'events', site, filters: {} }) }, tr('events.history'))),
      this.note,
      this.list,
    );
    this.live = new LiveEvents(site, {
      onEvent: (type, ev) => this.take(ev, type === 'new'),
      onState: (s) => {
        this.state = s;
        this.el.dataset.state = s;
        // The first page once the feed is open (a change made meanwhile comes by the feed), and
        // again after every reconnect: what changed while it was away is there, whatever it resumed from.
        if (s === 'open') void this.loadFirst();
        this.renderNote();
      },
    });
    this.live.start();
    this.offLanguage = onLanguageChange(() => {
      for (const [id, el] of this.items) {
        const ev = this.events.get(id);
        if (!ev) continue;
        const next = this.render(ev, false);
        el.replaceWith(next);
        this.items.set(id, next);
      }
      this.el.setAttribute('aria-label', t('events.title'));
      this.renderNote();
    });
    this.renderNote();
  }

  private async loadFirst(): Promise<void> {
    if (this.loading) return;
    this.loading = true;
    try {
      const page = await listEvents(this.site, {}, null, SHOWN);
      this.error = null;
      this.loaded = true;
      for (const ev of page.events) this.take(ev, false);
    } catch (err) {
      this.error = errorMessage(err); // asked again when the feed next opens
    } finally {
      this.loading = false;
    }
    this.renderNote();
  }

  private take(ev: SafetyEvent, fresh: boolean): void {
    if (ev.site !== this.site) return;
    const what = this.events.upsert(ev);
    if (what === 'stale') return;
    const old = this.items.get(ev.id);
    const el = this.render(ev, fresh || (old?.classList.contains('fresh') ?? false));
    if (old) old.replaceWith(el);
    this.items.set(ev.id, el);
    // Keep the list in the EventList's order, and only the events it holds.
    const order = this.events.items();
    const keep = new Set(order.map((e) => e.id));
    for (const [id, node] of this.items) {
      if (!keep.has(id)) {
        node.remove();
        this.items.delete(id);
      }
    }
    if (!old) {
      const at = order.findIndex((e) => e.id === ev.id);
      const next = order.slice(at + 1).map((e) => this.items.get(e.id)).find((n) => n?.isConnected) ?? null;
      this.list.insertBefore(el, next);
    }
    this.renderNote();
  }

  private render(ev: SafetyEvent, fresh: boolean): HTMLElement {
    const sentence = eventSentence(ev);
    const thumb = ev.snapshot_url ? snapshotImage(ev.snapshot_url, sentence, 'event-thumb') : h('span', { class: 'event-thumb none' });
    const status = ev.status === 'new' ? null : h('span', { class: `event-status status-${ev.status}` }, t(`events.status.${ev.status}`));
    const item = h(
      'li',
      {
        class: fresh ? 'event-item fresh' : 'event-item',
        tabIndex: 0,
        dataset: { eventId: String(ev.id), camera: ev.camera, status: ev.status, code: ev.code },
        attrs: { role: 'button', 'aria-label': t('events.open', { camera: ev.camera, warning: sentence }) },
        on: {
          click: () => this.onOpen(ev.camera),
          keydown: (e: KeyboardEvent) => {
            if (e.key === 'Enter' || e.key === ' ') {
              e.preventDefault();
              this.onOpen(ev.camera);
            }
          },
        },
      },
      thumb,
      h(
        'div',
        { class: 'event-text' },
        h('span', { class: 'event-words' }, sentence),
        h('span', { class: 'event-meta' }, h('span', { class: 'event-camera' }, ev.camera), ' · ', h('time', { dateTime: ev.first_seen }, formatTime(Date.parse(ev.first_seen))), ev.ongoing ? h('span', { class: 'event-ongoing' }, ` · ${t('events.ongoing')}`) : null),
        status,
      ),
    );
    return item;
  }

  private renderNote(): void {
    let text = '';
    if (this.error) text = this.error;
    else if (this.state === 'retrying') text = t('events.reconnecting');
    else if (this.loaded && this.events.size === 0) text = t('events.none');
    if (this.note.textContent !== text) this.note.textContent = text;
  }

  destroy(): void {
    this.live.close();
    this.offLanguage();
    this.el.remove();
  }
}
