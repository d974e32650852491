// The page's safety-event logic: the panel's list merging the first page with live changes, the
// history filters in the address, and an event's words in the page's language.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventList, eventsPath, filtersQuery, fromLocalInput, parseFilters, toLocalInput, type SafetyEvent } from '../../web/src/event-list.js';
import { lookupIn, type Catalogue } from '../../web/src/i18n-core.js';
import { eventWarning } from '../../web/src/warnings.js';

const dir = path.join(import.meta.dirname, '../../web/src/locales');
const cat = (code: string) => lookupIn(JSON.parse(fs.readFileSync(path.join(dir, `${code}.json`), 'utf8')) as Catalogue);

function event(id: number, seq: number, firstSeenMs: number, extra: Partial<SafetyEvent> = {}): SafetyEvent {
  return {
    id, seq, site: 's', camera: 'c', code: 'warning_no_hardhat', kind: 'code', title: 'No hardhat', words: '', count: 1, peak_count: 1,
    first_seen: new Date(firstSeenMs).toISOString(), last_seen: new Date(firstSeenMs).toISOString(), frames_seen: 1, ongoing: true,
    status: 'new', note: null, reviewed_by: null, reviewed_at: null, snapshot_url: null, peak_snapshot_url: null, ...extra,
  };
}

describe('event list', () => {
  it('keeps each event in its latest state whatever order the page and the feed bring them in', () => {
    const l = new EventList(10);
    expect(l.upsert(event(1, 5, 1000, { frames_seen: 9 }))).toBe('new'); // from the feed, newer
    expect(l.upsert(event(1, 3, 1000, { frames_seen: 2 }))).toBe('stale'); // from the first page, older
    expect(l.get(1)!.frames_seen).toBe(9);
    expect(l.upsert(event(1, 7, 1000, { status: 'acknowledged' }))).toBe('updated');
    expect(l.upsert(event(1, 7, 1000))).toBe('stale'); // the same change twice (a resumed feed)
    expect(l.get(1)!.status).toBe('acknowledged');
  });

  it('lists newest first and holds at most its bound, dropping the oldest', () => {
    const l = new EventList(3);
    for (const [id, t] of [[1, 100], [2, 300], [3, 200], [4, 400]] as const) l.upsert(event(id, id, t));
    expect(l.items().map((e) => e.id)).toEqual([4, 2, 3]);
    expect(l.upsert(event(5, 9, 50))).toBe('stale'); // older than everything held
    expect(l.size).toBe(3);
    expect(l.items().map((e) => e.id)).toEqual([4, 2, 3]);
  });
});

describe('history filters', () => {
  it('round-trip through the address, dropping what the API would refuse', () => {
    const f = { camera: 'gate 1', code: 'warning_no_mask', status: 'acknowledged' as const, since: '2026-03-01T00:00:00.000Z', until: '2026-03-02T00:00:00.000Z', q: 'crane & co' };
    expect(parseFilters(filtersQuery(f))).toEqual(f);
    expect(parseFilters('status=bogus&since=yesterday&camera=' + 'x'.repeat(300) + '&q=ok')).toEqual({ q: 'ok' });
    expect(filtersQuery({})).toBe('');
  });

  it('make the API path with the site, the page size and the cursor', () => {
    const p = new URL(eventsPath('site a', { status: 'new', camera: 'c/1' }, { cursor: '1700000000000-5', limit: 50 }), 'http://x');
    expect(p.pathname).toBe('/events');
    expect(Object.fromEntries(p.searchParams)).toEqual({ site: 'site a', camera: 'c/1', status: 'new', limit: '50', cursor: '1700000000000-5' });
  });

  it('convert datetime-local values (local time) to ISO and back', () => {
    const iso = fromLocalInput('2026-05-04T13:45')!;
    expect(new Date(iso).getHours()).toBe(13);
    expect(toLocalInput(iso)).toBe('2026-05-04T13:45');
    expect(fromLocalInput('')).toBeUndefined();
    expect(fromLocalInput('not a time')).toBeUndefined();
    expect(toLocalInput(undefined)).toBe('');
  });
});

describe('event words', () => {
  it('translate a code at its peak count; a sentence is shown as sent unless recognised', () => {
    expect(eventWarning('warning_no_hardhat', 'code', 2, cat('en')).sentence).toBe('2 people are not wearing a hardhat');
    expect(eventWarning('warning_no_hardhat', 'code', 2, cat('zh-TW')).sentence).toBe('有 2 人未戴安全帽');
    expect(eventWarning('warning_no_hardhat', 'code', 1, cat('en')).sentence).toBe('1 person is not wearing a hardhat');
    expect(eventWarning('warning_crane_swing', 'code', 3, cat('en')).sentence).toBe('Crane swing: 3');
    expect(eventWarning('Scaffold is missing a guard rail', 'sentence', 1, cat('ja')).sentence).toBe('Scaffold is missing a guard rail');
  });
});
