// The events API: every endpoint scoped to the caller's sites (admins: all; others: theirs; guests
// read but cannot review), filters, cursor pagination without gaps or repeats while events are
// being added, reviews with their audit, the per-day summary, and bad input refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES, SQLITE, startService, type TestService } from '../helpers/service.js';
import { call } from '../helpers/http.js';
import { defaultMeta, jpeg, postFrame, uniqueLabel } from '../helpers/frames.js';
import { SseClient } from '../helpers/sse.js';

const ENV = { EVENT_QUIET_MS: '30000', EVENT_FLUSH_MS: '20' };

describe.each([SQLITE, POSTGRES])('events API ($name)', (backend) => {
  let svc: TestService;
  const north = uniqueLabel('north');
  const south = uniqueLabel('south');
  const tokens: Record<string, string> = {};
  let northEvent: any;
  let southEvent: any;

  const get = (route: string, who: string) => call(svc.url, 'GET', route, { token: tokens[who] });
  async function record(site: string, camera: string, warnings = '{"warning_no_hardhat":{"count":1}}'): Promise<void> {
    const r = await postFrame(svc.url, tokens.admin!, { label: site, key: camera, ...defaultMeta, warnings_json: warnings }, jpeg(1));
    expect(r.status).toBe(200);
  }
  const flush = () => svc.events.recorder.flush();

  beforeAll(async () => {
    svc = await startService({ backend, env: ENV, name: 'eventsapi' });
    tokens.admin = await svc.token('admin');
    tokens.manager = await svc.token('manager', 'model_manager', [north]);
    tokens.user = await svc.token('user-n', 'user', [north]);
    tokens.guest = await svc.token('guest-n', 'guest', [north]);
    tokens.southUser = await svc.token('user-s', 'user', [south]);
    tokens.nobody = await svc.token('user-none', 'user', []);
    await record(north, 'gate');
    await record(south, 'crane', '{"warning_close_to_machinery":{"count":2}}');
    await flush();
    northEvent = (await get(`/events?site=${north}`, 'admin')).body.events[0];
    southEvent = (await get(`/events?site=${south}`, 'admin')).body.events[0];
    expect(northEvent).toBeTruthy();
    expect(southEvent).toBeTruthy();
  });
  afterAll(async () => svc?.stop());

  describe('site scoping of every endpoint', () => {
    it('GET /events: admins see every site, others their own only', async () => {
      const sitesOf = async (who: string) => new Set(((await get('/events?limit=200', who)).body.events as any[]).map((e) => e.site));
      expect(await sitesOf('admin')).toEqual(new Set([north, south]));
      for (const who of ['manager', 'user', 'guest']) expect(await sitesOf(who)).toEqual(new Set([north]));
      expect(await sitesOf('southUser')).toEqual(new Set([south]));
      expect(await sitesOf('nobody')).toEqual(new Set());
      const refused = await get(`/events?site=${encodeURIComponent(south)}`, 'user');
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ code: 'SITE_FORBIDDEN' });
      expect((await call(svc.url, 'GET', '/events', { token: null })).status).toBe(401);
    });

    it('GET /events/{id} and its snapshots: 404 for an event of another site', async () => {
      for (const path of ['', '/snapshot.jpg', '/peak.jpg']) {
        expect((await get(`/events/${northEvent.id}${path}`, 'guest')).status).toBe(200);
        expect((await get(`/events/${southEvent.id}${path}`, 'guest')).status).toBe(404);
        expect((await get(`/events/${southEvent.id}${path}`, 'admin')).status).toBe(200);
        expect((await get(`/events/99999999${path}`, 'admin')).status).toBe(404);
      }
    });

    it('snapshots take the token as ?token= too (for <img src>)', async () => {
      const img = await fetch(`${svc.url}${northEvent.snapshot_url}?token=${tokens.user}`);
      expect(img.status).toBe(200);
      expect(img.headers.get('content-type')).toBe('image/jpeg');
      expect(Buffer.from(await img.arrayBuffer()).equals(jpeg(1))).toBe(true);
      const again = await fetch(`${svc.url}${northEvent.snapshot_url}?token=${tokens.user}`, { headers: { 'if-none-match': img.headers.get('etag')! } });
      expect(again.status).toBe(304);
      expect((await fetch(`${svc.url}${southEvent.snapshot_url}?token=${tokens.user}`)).status).toBe(404);
      expect((await fetch(`${svc.url}${northEvent.snapshot_url}`)).status).toBe(401);
      // Only these routes: the list takes the header only.
      expect((await fetch(`${svc.url}/events?token=${tokens.user}`)).status).toBe(401);
    });

    it('PATCH /events/{id}: admin, model_manager and user of the site; a guest may not; another site is 404', async () => {
      for (const who of ['admin', 'manager', 'user']) {
        const r = await call(svc.url, 'PATCH', `/events/${northEvent.id}`, { token: tokens[who], body: { note: `seen by ${who}` } });
        expect(r.status).toBe(200);
      }
      const g = await call(svc.url, 'PATCH', `/events/${northEvent.id}`, { token: tokens.guest, body: { status: 'resolved' } });
      expect(g.status).toBe(403);
      expect(g.body).toMatchObject({ code: 'FORBIDDEN' });
      expect((await call(svc.url, 'PATCH', `/events/${southEvent.id}`, { token: tokens.user, body: { status: 'resolved' } })).status).toBe(404);
      expect((await get(`/events/${southEvent.id}`, 'admin')).body).toMatchObject({ status: 'new', audit: [] });
      expect((await get(`/events/${northEvent.id}`, 'admin')).body.status).toBe('new');
    });

    it('GET /events/summary: only the caller’s sites', async () => {
      const sites = async (who: string) => new Set(((await get('/events/summary', who)).body.rows as any[]).map((r) => r.site));
      expect(await sites('admin')).toEqual(new Set([north, south]));
      expect(await sites('guest')).toEqual(new Set([north]));
      expect((await get(`/events/summary?site=${encodeURIComponent(south)}`, 'guest')).status).toBe(403);
    });

    it('GET /events/stream: only the caller’s sites (403 for another)', async () => {
      const s = await SseClient.open(svc.url, `/events/stream?site=${encodeURIComponent(south)}`, { token: tokens.guest, via: 'query' });
      expect(s.status).toBe(403);
    });

    it('retention and webhooks: admins only', async () => {
      for (const who of ['manager', 'user', 'guest']) {
        expect((await get('/events/retention', who)).status).toBe(403);
        expect((await call(svc.url, 'PUT', '/events/retention', { token: tokens[who], body: { retention_seconds: 60 } })).status).toBe(403);
        expect((await get('/webhooks', who)).status).toBe(403);
        expect((await call(svc.url, 'POST', '/webhooks', { token: tokens[who], body: { url: 'http://127.0.0.1:9/x' } })).status).toBe(403);
      }
      expect((await get('/events/retention', 'admin')).body).toEqual({ retention_seconds: 30 * 86400, default_seconds: 30 * 86400, set_by_admin: false });
    });
  });

  it('reviews: status and note, with an audit of who did what, shown with the event and pushed live', async () => {
    const site = uniqueLabel('review');
    tokens.reviewer = await svc.token('reviewer', 'user', [site]);
    await record(site, 'cam');
    await flush();
    const [ev] = (await get(`/events?site=${site}`, 'admin')).body.events;
    const live = await SseClient.open(svc.url, `/events/stream?site=${encodeURIComponent(site)}`, { token: tokens.reviewer });
    try {
      const a = await call(svc.url, 'PATCH', `/events/${ev.id}`, { token: tokens.reviewer, body: { status: 'acknowledged', note: 'crew told' } });
      expect(a.status).toBe(200);
      expect(a.body).toMatchObject({ id: ev.id, status: 'acknowledged', note: 'crew told', reviewed_by: 'reviewer' });
      await live.until(() => live.messages.length === 1, 5000, 'the review pushed');
      expect(live.messages[0]!.data).toMatchObject({ type: 'update', event: { id: ev.id, status: 'acknowledged' } });
      const b = await call(svc.url, 'PATCH', `/events/${ev.id}`, { token: tokens.admin, body: { status: 'false_positive' } });
      expect(b.body).toMatchObject({ status: 'false_positive', note: 'crew told', reviewed_by: 'admin' });
      const got = (await get(`/events/${ev.id}`, 'reviewer')).body;
      expect(got.audit.map((r: any) => [r.username, r.from_status, r.to_status, r.note])).toEqual([
        ['reviewer', 'new', 'acknowledged', 'crew told'],
        ['admin', 'acknowledged', 'false_positive', null],
      ]);
      expect(Date.parse(got.audit[1].at)).toBeGreaterThanOrEqual(Date.parse(got.audit[0].at));
      // Filter by status.
      expect((await get(`/events?site=${site}&status=false_positive`, 'admin')).body.events.map((e: any) => e.id)).toEqual([ev.id]);
      expect((await get(`/events?site=${site}&status=new,acknowledged`, 'admin')).body.events).toEqual([]);
      // A false positive keeps collecting the same warning (it does not reopen as new).
      await record(site, 'cam');
      await flush();
      expect((await get(`/events?site=${site}`, 'admin')).body.events).toMatchObject([{ id: ev.id, status: 'false_positive', frames_seen: 2 }]);
    } finally {
      live.close();
    }
  });

  it('filters by camera, code, text and time', async () => {
    const site = uniqueLabel('filters');
    await record(site, 'gate-east', '{"warning_no_hardhat":{"count":1},"warning_no_safety_vest":{"count":1}}');
    await record(site, 'crane-west', '{"warning_close_to_vehicle":{"count":1}}');
    await flush();
    const ids = async (q: string) => ((await get(`/events?site=${site}${q}`, 'admin')).body.events as any[]).map((e) => `${e.camera}/${e.code}`).sort();
    expect(await ids('&camera=gate-east')).toEqual(['gate-east/warning_no_hardhat', 'gate-east/warning_no_safety_vest']);
    expect(await ids('&code=warning_close_to_vehicle')).toEqual(['crane-west/warning_close_to_vehicle']);
    expect(await ids('&q=VEST')).toEqual(['gate-east/warning_no_safety_vest']);
    expect(await ids('&q=vehicles')).toEqual(['crane-west/warning_close_to_vehicle']);
    expect(await ids('&q=100%25')).toEqual([]); // % is matched literally
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect(await ids(`&since=${encodeURIComponent(future)}`)).toEqual([]);
    expect(await ids(`&until=${Date.now() - 3600_000}`)).toEqual([]);
    expect(await ids(`&since=${Date.now() - 3600_000}&until=${encodeURIComponent(future)}`)).toHaveLength(3);
  });

  it('pages newest first without gaps or repeats while events are being added', async () => {
    const site = uniqueLabel('pages');
    for (let i = 0; i < 23; i++) await record(site, `cam-${i}`);
    await flush();
    const before = ((await get(`/events?site=${site}&limit=200`, 'admin')).body.events as any[]).map((e) => e.id);
    expect(before).toHaveLength(23);
    expect(before).toEqual([...before].sort((a, b) => b - a));

    const seen: number[] = [];
    let cursor: string | null = null;
    let added = 0;
    do {
      const page: any = await get(`/events?site=${site}&limit=5${cursor ? `&cursor=${cursor}` : ''}`, 'admin');
      expect(page.status).toBe(200);
      seen.push(...page.body.events.map((e: any) => e.id));
      cursor = page.body.next_cursor;
      // New events and extensions of listed ones arrive between pages.
      await record(site, `new-${added++}`);
      await record(site, 'cam-0');
      await flush();
    } while (cursor);
    expect(seen).toEqual(before);
    const now = ((await get(`/events?site=${site}&limit=200`, 'admin')).body.events as any[]).map((e) => e.id);
    expect(now).toHaveLength(23 + added);
    expect(now.slice(added)).toEqual(before);
  });

  it('counts events per day, camera and warning for the summary', async () => {
    const site = uniqueLabel('summary');
    await record(site, 'a', '{"warning_no_hardhat":{"count":2},"warning_close_to_machinery":{"count":1}}');
    await record(site, 'b', '{"warning_no_hardhat":{"count":1}}');
    await record(site, 'b', '{"warning_no_hardhat":{"count":4}}');
    await flush();
    const r = await get(`/events/summary?site=${site}&tz_offset_minutes=480`, 'admin');
    expect(r.status).toBe(200);
    const today = new Date(Date.now() + 480 * 60_000).toISOString().slice(0, 10);
    expect(r.body).toMatchObject({ tz_offset_minutes: 480, truncated: false });
    expect(r.body.rows).toEqual([
      { day: today, site, camera: 'a', code: 'warning_close_to_machinery', title: 'Too close to machinery', events: 1, frames_seen: 1, peak_count: 1 },
      { day: today, site, camera: 'a', code: 'warning_no_hardhat', title: 'No hardhat', events: 1, frames_seen: 1, peak_count: 2 },
      { day: today, site, camera: 'b', code: 'warning_no_hardhat', title: 'No hardhat', events: 1, frames_seen: 2, peak_count: 4 },
    ]);
    expect((await get(`/events/summary?site=${site}&until=${Date.now() - 86400_000}`, 'admin')).body.rows).toEqual([]);
  });

  it.each([
    ['GET', '/events?limit=0'],
    ['GET', '/events?limit=500'],
    ['GET', '/events?status=open'],
    ['GET', '/events?since=yesterday'],
    ['GET', '/events?cursor=abc'],
    ['GET', '/events?colour=red'],
    ['GET', '/events/abc'],
    ['GET', '/events/summary?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z'],
    ['GET', '/events/summary?since=2000-01-01T00:00:00Z'],
    ['GET', '/events/summary?tz_offset_minutes=900'],
    ['PATCH', '/events/{id}', {}],
    ['PATCH', '/events/{id}', { status: 'deleted' }],
    ['PATCH', '/events/{id}', { note: 'x'.repeat(2001) }],
    ['PATCH', '/events/{id}', { status: 'resolved', extra: 1 }],
    ['PUT', '/events/retention', { retention_seconds: 0 }],
    ['PUT', '/events/retention', { retention_seconds: '60' }],
  ])('refuses %s %s %j with 422 and changes nothing', async (method, route, body?: unknown) => {
    const r = await call(svc.url, method, route.replace('{id}', String(northEvent.id)), { token: tokens.admin, body });
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ code: 'VALIDATION' });
    expect(typeof r.body.detail).toBe('string');
    const ev = (await get(`/events/${northEvent.id}`, 'admin')).body;
    expect(ev.status).toBe('new');
    expect((await get('/events/retention', 'admin')).body.set_by_admin).toBe(false);
  });
});
