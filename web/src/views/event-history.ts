// A site's safety-event history (#/site/<site>/events?…): filters by camera, warning, status, time
// and words, kept in the address (bookmarkable, back and forward work); pages of 50, newest first,
// with "load more" (cursor pagination: no event skipped or repeated while new ones arrive); each
// event with its snapshots, its audit, and for reviewers (not guests) acknowledge, false positive
// and resolve with a note.
import { h } from '../dom.js';
import { errorMessage } from '../errors.js';
import { fromLocalInput, STATUSES, toLocalInput, type EventFilters, type EventReview, type EventStatus, type SafetyEvent } from '../event-list.js';
import { getEvent, listEvents, mayReview, reviewEvent, snapshotImage } from '../events.js';
import { formatTime, onLanguageChange, t, tr, trAttr } from '../i18n.js';
import { routeHash, type Route } from '../routes.js';
import { KNOWN_CODES } from '../warnings.js';
import { eventSentence } from './events-panel.js';
import type { View } from './view.js';

const PAGE = 50;
/** Rows the page holds at most (then "load more" stops: narrow the filters). */
const MAX_ROWS = 2000;
const REVIEW_ACTIONS: ReadonlyArray<{ status: EventStatus; key: string }> = [
  { status: 'acknowledged', key: 'events.review.acknowledge' },
  { status: 'false_positive', key: 'events.review.false_positive' },
  { status: 'resolved', key: 'events.review.resolve' },
];

function field(labelKey: string, control: HTMLElement): HTMLElement {
  return h('label', { class: 'field' }, h('span', null, tr(labelKey)), control);
}

export class EventHistoryView implements View {
  readonly el: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly camera: HTMLInputElement;
  private readonly cameras: HTMLDataListElement;
  private readonly code: HTMLSelectElement;
  private readonly status: HTMLSelectElement;
  private readonly since: HTMLInputElement;
  private readonly until: HTMLInputElement;
  private readonly q: HTMLInputElement;
  private readonly list: HTMLElement;
  private readonly more: HTMLButtonElement;
  private readonly message: HTMLElement;
  private readonly offLanguage: () => void;
  private filters: EventFilters;
  private events: SafetyEvent[] = [];
  private readonly audits = new Map<number, EventReview[]>();
  private readonly rows = new Map<number, HTMLElement>();
  private cursor: string | null = null;
  /** Bumped on every new query: answers to an older one are dropped. */
  private generation = 0;
  private readonly reviewer = mayReview();

  constructor(readonly site: string, filters: EventFilters) {
    this.filters = filters;
    const listId = `cameras-${Math.random().toString(36).slice(2)}`;
    this.cameras = h('datalist', { id: listId });
    this.camera = h('input', { name: 'camera', type: 'text', maxLength: 256, autocomplete: 'off', attrs: { list: listId } });
    this.code = h('select', { name: 'code' });
    this.status = h('select', { name: 'status' }, h('option', { value: '' }, tr('events.filter.any')), ...STATUSES.map((s) => h('option', { value: s }, tr(`events.status.${s}`))));
    this.since = h('input', { name: 'since', type: 'datetime-local' });
    this.until = h('input', { name: 'until', type: 'datetime-local' });
    this.q = h('input', { name: 'q', type: 'search', maxLength: 200 });
    trAttr(this.q, 'placeholder', 'events.filter.q_hint');
    this.form = h(
      'form',
      { class: 'event-filters card', on: { submit: (e: SubmitEvent) => (e.preventDefault(), this.apply(this.read())) } },
      field('events.filter.camera', this.camera),
      this.cameras,
      field('events.filter.warning', this.code),
      field('events.filter.status', this.status),
      field('events.filter.since', this.since),
      field('events.filter.until', this.until),
      field('events.filter.q', this.q),
      h(
        'div',
        { class: 'row-actions' },
        h('button', { type: 'submit' }, tr('events.filter.apply')),
        h('button', { type: 'button', class: 'clear', on: { click: () => this.apply({}) } }, tr('events.filter.clear')),
      ),
    );
    this.list = h('ol', { class: 'history-list' });
    this.message = h('p', { class: 'history-message', attrs: { role: 'status' } });
    this.more = h('button', { type: 'button', class: 'load-more', hidden: true, on: { click: () => void this.load(false) } }, tr('events.load_more'));
    this.el = h(
      'section',
      { class: 'history-view' },
      h(
        'div',
        { class: 'wall-head' },
        h('a', { href: routeHash({ name: 'wall', site }), class: 'crumb' }, '← ', tr('events.back_to_wall')),
        h('h1', null, tr('events.history_title', { site })),
      ),
      this.reviewer ? null : h('p', { class: 'hint' }, tr('events.read_only')),
      this.form,
      this.message,
      this.list,
      this.more,
    );
    this.renderCodes();
    this.fill();
    this.offLanguage = onLanguageChange(() => this.renderRows());
    void this.load(true);
  }

  /** The warnings offered: every code the catalogues know, and any other the results have shown. */
  private renderCodes(): void {
    const known = new Set<string>(KNOWN_CODES);
    const extra = new Map<string, string>(); // code → its words
    for (const ev of this.events) if (!known.has(ev.code) && !extra.has(ev.code)) extra.set(ev.code, eventSentence(ev));
    const chosen = this.filters.code ?? '';
    if (chosen && !known.has(chosen) && !extra.has(chosen)) extra.set(chosen, chosen);
    this.code.replaceChildren(
      h('option', { value: '' }, tr('events.filter.any')),
      ...KNOWN_CODES.map((c) => h('option', { value: c }, tr(`warning.${c}.label`))),
      ...[...extra].map(([c, words]) => h('option', { value: c }, words)),
    );
    this.code.value = chosen;
  }

  /** Puts the filters in the form. */
  private fill(): void {
    const f = this.filters;
    this.camera.value = f.camera ?? '';
    this.code.value = f.code ?? '';
    this.status.value = f.status ?? '';
    this.since.value = toLocalInput(f.since);
    this.until.value = toLocalInput(f.until);
    this.q.value = f.q ?? '';
  }

  private read(): EventFilters {
    const f: EventFilters = {};
    const camera = this.camera.value.trim();
    if (camera) f.camera = camera;
    if (this.code.value) f.code = this.code.value;
    if (this.status.value) f.status = this.status.value as EventStatus;
    const since = fromLocalInput(this.since.value);
    if (since) f.since = since;
    const until = fromLocalInput(this.until.value);
    if (until) f.until = until;
    const q = this.q.value.trim();
    if (q) f.q = q;
    return f;
  }

  /** New filters go to the address (so back returns to the previous ones), which calls update(). */
  private apply(f: EventFilters): void {
    const hash = routeHash({ name: 'events', site: this.site, filters: f });
    if (location.hash === hash) {
      this.filters = f;
      this.fill();
      void this.load(true);
    } else location.hash = hash;
  }

  update(route: Route): boolean {
    if (route.name !== 'events' || route.site !== this.site) return false;
    this.filters = route.filters;
    this.fill();
    void this.load(true);
    return true;
  }

  private async load(fresh: boolean): Promise<void> {
    const gen = fresh ? ++this.generation : this.generation;
    if (fresh) {
      this.cursor = null;
      this.events = [];
      this.audits.clear();
      this.renderRows();
    }
    this.more.disabled = true;
    this.message.textContent = t('app.loading');
    try {
      const page = await listEvents(this.site, this.filters, fresh ? null : this.cursor, PAGE);
      if (gen !== this.generation) return;
      const have = new Set(this.events.map((e) => e.id));
      this.events.push(...page.events.filter((e) => !have.has(e.id)));
      this.cursor = this.events.length >= MAX_ROWS ? null : page.next_cursor;
      this.message.textContent = this.events.length === 0 ? t('events.none_match') : '';
      this.renderRows();
      this.renderCameras();
      this.renderCodes();
    } catch (err) {
      if (gen !== this.generation) return;
      this.message.textContent = errorMessage(err);
    } finally {
      if (gen === this.generation) {
        this.more.disabled = false;
        this.more.hidden = this.cursor === null;
      }
    }
  }

  private renderCameras(): void {
    const names = [...new Set(this.events.map((e) => e.camera))].sort();
    this.cameras.replaceChildren(...names.map((n) => h('option', { value: n })));
  }

  private renderRows(): void {
    const rows = this.events.map((ev) => this.row(ev));
    this.rows.clear();
    this.events.forEach((ev, i) => this.rows.set(ev.id, rows[i]!));
    this.list.replaceChildren(...rows);
  }

  private replaceRow(ev: SafetyEvent): void {
    const i = this.events.findIndex((e) => e.id === ev.id);
    if (i < 0) return;
    this.events[i] = ev;
    const old = this.rows.get(ev.id);
    const row = this.row(ev);
    this.rows.set(ev.id, row);
    old?.replaceWith(row);
  }

  private row(ev: SafetyEvent): HTMLElement {
    const sentence = eventSentence(ev);
    const error = h('p', { class: 'field-error', hidden: true });
    const audit = this.audits.get(ev.id);
    const images = h('div', { class: 'event-images' }, ev.snapshot_url ? snapshotImage(ev.snapshot_url, sentence, 'event-snapshot') : null);
    if (audit && ev.peak_snapshot_url && ev.peak_count > 1) images.append(snapshotImage(ev.peak_snapshot_url, t('events.peak'), 'event-snapshot peak'));

    let review: HTMLElement | null = null;
    if (this.reviewer) {
      const note = h('input', { name: 'note', type: 'text', maxLength: 2000 });
      trAttr(note, 'placeholder', 'events.review.note');
      const buttons = REVIEW_ACTIONS.map(({ status, key }) =>
        h(
          'button',
          {
            type: 'button',
            class: `review review-${status}`,
            dataset: { status },
            disabled: ev.status === status,
            on: { click: () => void this.review(ev, status, note.value, error, buttons) },
          },
          tr(key),
        ),
      );
      review = h('div', { class: 'row-actions event-review' }, note, ...buttons);
    }

    const auditToggle = h('button', { type: 'button', class: 'show-audit', on: { click: () => void this.toggleAudit(ev, error) } }, tr(audit ? 'events.audit.hide' : 'events.audit.show'));
    return h(
      'li',
      { class: 'event-row card', dataset: { eventId: String(ev.id), status: ev.status, camera: ev.camera, code: ev.code } },
      images,
      h(
        'div',
        { class: 'event-body' },
        h('h3', { class: 'event-words' }, sentence),
        h(
          'p',
          { class: 'event-meta' },
          h('a', { class: 'event-camera', href: routeHash({ name: 'camera', site: this.site, camera: ev.camera }) }, ev.camera),
          ' · ',
          t('events.seen', { first: formatTime(Date.parse(ev.first_seen)), last: formatTime(Date.parse(ev.last_seen)) }),
          ' · ',
          t('events.frames', { frames: ev.frames_seen, peak: ev.peak_count }),
        ),
        h(
          'p',
          { class: 'event-state' },
          h('span', { class: `event-status status-${ev.status}` }, t(`events.status.${ev.status}`)),
          ev.reviewed_by && ev.reviewed_at ? h('span', { class: 'event-reviewed' }, ` ${t('events.reviewed', { user: ev.reviewed_by, time: formatTime(Date.parse(ev.reviewed_at)) })}`) : null,
          ev.note ? h('span', { class: 'event-note-text' }, ` “${ev.note}”`) : null,
        ),
        review,
        h('div', { class: 'row-actions' }, auditToggle),
        error,
        audit ? this.auditList(audit) : null,
      ),
    );
  }

  private auditList(audit: EventReview[]): HTMLElement {
    if (audit.length === 0) return h('p', { class: 'event-audit hint' }, t('events.audit.none'));
    return h(
      'ol',
      { class: 'event-audit' },
      ...audit.map((r) =>
        h(
          'li',
          null,
          t('events.audit.entry', {
            time: formatTime(Date.parse(r.at)),
            user: r.username,
            from: t(`events.status.${r.from_status}`) || r.from_status,
            to: t(`events.status.${r.to_status}`) || r.to_status,
          }),
          r.note ? ` “${r.note}”` : '',
        ),
      ),
    );
  }

  private async toggleAudit(ev: SafetyEvent, error: HTMLElement): Promise<void> {
    if (this.audits.has(ev.id)) {
      this.audits.delete(ev.id);
      this.replaceRow(ev);
      return;
    }
    try {
      const full = await getEvent(ev.id);
      this.audits.set(ev.id, full.audit);
      this.replaceRow(full);
    } catch (err) {
      error.textContent = errorMessage(err);
      error.hidden = false;
    }
  }

  private async review(ev: SafetyEvent, status: EventStatus, note: string, error: HTMLElement, buttons: HTMLButtonElement[]): Promise<void> {
    for (const b of buttons) b.disabled = true;
    try {
      const updated = await reviewEvent(ev.id, status, note);
      this.audits.set(ev.id, updated.audit); // show what was done, and by whom
      this.replaceRow(updated);
    } catch (err) {
      error.textContent = errorMessage(err);
      error.hidden = false;
      for (const b of buttons) b.disabled = b.dataset.status === ev.status;
    }
  }

  destroy(): void {
    this.generation++;
    this.offLanguage();
    this.el.remove();
  }
}
