// The live event feed (GET /events/stream, Server-Sent Events): new and updated events of the
// caller's sites only, as they are written; Last-Event-ID resumes without loss; the stream closes
// when its session ends; streams are bounded; with Redis, a stream on one instance sees events
// recorded by another at once, and resumes there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES, POSTGRES_REDIS, SQLITE, Sandbox, startService, type TestService } from '../helpers/service.js';
import { call } from '../helpers/http.js';
import { defaultMeta, jpeg, postFrame, sleep, uniqueLabel } from '../helpers/frames.js';
import { SseClient } from '../helpers/sse.js';

const ENV = { EVENT_QUIET_MS: '30000', EVENT_FLUSH_MS: '20', EVENT_STREAM_MAX_CLIENTS: '5' };
const hardhat = (count: number) => JSON.stringify({ warning_no_hardhat: { count } });

async function upload(svc: TestService, token: string, label: string, key: string, warnings = hardhat(1)): Promise<void> {
  const r = await postFrame(svc.url, token, { label, key, ...defaultMeta, warnings_json: warnings }, jpeg(1));
  expect(r.status).toBe(200);
}

const eventsOf = (c: SseClient) => c.messages.map((m) => m.data.event);

describe.each([SQLITE, POSTGRES])('live event stream ($name)', (backend) => {
  let svc: TestService;
  let admin: string;
  let northUser: string;
  let southUser: string;
  const north = uniqueLabel('north');
  const south = uniqueLabel('south');
  const open: SseClient[] = [];
  const stream = async (token: string | undefined, opts: { via?: 'header' | 'query'; lastEventId?: string; query?: string } = {}) => {
    const c = await SseClient.open(svc.url, `/events/stream${opts.query ?? ''}`, { token, via: opts.via, lastEventId: opts.lastEventId });
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    svc = await startService({ backend, env: ENV, name: 'stream' });
    admin = await svc.token('admin');
    northUser = await svc.token('north-user', 'user', [north]);
    southUser = await svc.token('south-user', 'guest', [south]);
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await svc?.stop();
  });

  it('pushes new and updated events of the caller’s sites only, as they are written', async () => {
    const all = await stream(admin);
    const n = await stream(northUser, { via: 'query' });
    const s = await stream(southUser);
    expect([all.status, n.status, s.status]).toEqual([200, 200, 200]);
    expect(n.headers['content-type']).toMatch(/^text\/event-stream/);

    await upload(svc, admin, north, 'cam-a');
    await n.until(() => n.messages.length === 1, 5000, 'the new north event');
    expect(n.messages[0]!.data).toMatchObject({ type: 'new', event: { site: north, camera: 'cam-a', frames_seen: 1, words: '1 people are not wearing a hardhat' } });
    await upload(svc, admin, north, 'cam-a', hardhat(3));
    await n.until(() => n.messages.length === 2, 5000, 'the update');
    expect(n.messages[1]!.data).toMatchObject({ type: 'update', event: { id: n.messages[0]!.data.event.id, frames_seen: 2, peak_count: 3 } });
    expect(Number(n.messages[1]!.id)).toBeGreaterThan(Number(n.messages[0]!.id));

    await upload(svc, admin, south, 'cam-b');
    await s.until(() => s.messages.length === 1, 5000, 'the south event');
    await all.until(() => all.messages.length === 3, 5000, 'all three changes for the admin');
    await sleep(200);
    expect(eventsOf(n).every((e) => e.site === north)).toBe(true);
    expect(eventsOf(s).map((e) => e.site)).toEqual([south]);
    expect(eventsOf(all).map((e) => e.site)).toEqual([north, north, south]);
    for (const c of [all, n, s]) c.close();
  });

  it('refuses a missing token (401), a site the caller may not see (403), a bad Last-Event-ID (422)', async () => {
    expect((await stream(undefined)).status).toBe(401);
    const bad = await stream('nope');
    expect(bad.status).toBe(401);
    expect(bad.json()).toMatchObject({ code: 'INVALID_TOKEN' });
    const forbidden = await stream(northUser, { query: `?site=${encodeURIComponent(south)}` });
    expect(forbidden.status).toBe(403);
    expect(forbidden.json()).toMatchObject({ code: 'SITE_FORBIDDEN' });
    expect((await stream(northUser, { lastEventId: 'yesterday' })).status).toBe(422);
    const scoped = await stream(northUser, { query: `?site=${encodeURIComponent(north)}` });
    expect(scoped.status).toBe(200);
    scoped.close();
  });

  it('resumes after a reconnect with Last-Event-ID: every change missed, none seen before', async () => {
    const first = await stream(northUser);
    await upload(svc, admin, north, 'resume-1');
    await upload(svc, admin, north, 'resume-2');
    await first.until(() => first.messages.length === 2, 5000, 'two events');
    const last = first.lastId!;
    const [e1, e2] = eventsOf(first);
    first.close();

    // While disconnected: two new events, one extended, one reviewed; and one of another site.
    await upload(svc, admin, north, 'resume-3');
    await upload(svc, admin, north, 'resume-4');
    await upload(svc, admin, north, 'resume-1', hardhat(2));
    await upload(svc, admin, south, 'resume-x');
    await svc.events.recorder.flush();
    expect((await call(svc.url, 'PATCH', `/events/${e2.id}`, { token: northUser, body: { status: 'acknowledged', note: 'seen' } })).status).toBe(200);
    await upload(svc, admin, north, 'resume-3', hardhat(2)); // created while away, then changed: still new to the client
    await svc.events.recorder.flush();

    const again = await stream(northUser, { lastEventId: last });
    await again.until(() => again.messages.length === 4, 5000, 'the four missed changes');
    await sleep(200);
    const got = again.messages.map((m) => ({ id: Number(m.id), type: m.data.type, camera: m.data.event.camera, status: m.data.event.status, frames: m.data.event.frames_seen }));
    expect(got.every((m) => m.id > Number(last))).toBe(true);
    expect(got.map((m) => m.id)).toEqual([...got.map((m) => m.id)].sort((a, b) => a - b));
    expect(got.map(({ id: _id, ...m }) => m).sort((a, b) => a.camera.localeCompare(b.camera))).toEqual([
      { type: 'update', camera: 'resume-1', status: 'new', frames: 2 },
      { type: 'update', camera: 'resume-2', status: 'acknowledged', frames: 1 },
      { type: 'new', camera: 'resume-3', status: 'new', frames: 2 },
      { type: 'new', camera: 'resume-4', status: 'new', frames: 1 },
    ]);
    expect(eventsOf(again).find((e) => e.camera === 'resume-1').id).toBe(e1.id);

    // And it goes on live.
    await upload(svc, admin, north, 'resume-5');
    await again.until(() => again.messages.length === 5, 5000, 'a live change after the backlog');
    again.close();

    // The query parameter does the same (for a first connection that knows where it was).
    const viaQuery = await stream(northUser, { query: `?last_event_id=${last}` });
    await viaQuery.until(() => viaQuery.messages.length === 5, 5000, 'the backlog via ?last_event_id=');
    viaQuery.close();
  });

  it('closes the stream when its session ends', async () => {
    const token = await svc.token('leaving', 'user', [north]);
    const c = await stream(token);
    expect(c.status).toBe(200);
    expect((await call(svc.url, 'POST', '/logout', { token })).status).toBe(200);
    await c.until(() => c.ended, 5000, 'the stream to end');
  });

  it('bounds the open streams (EVENT_STREAM_MAX_CLIENTS): then 503 with Retry-After', async () => {
    await sleep(100); // the previous tests' streams are gone
    const cs = [];
    for (let i = 0; i < 5; i++) cs.push(await stream(admin));
    expect(cs.map((c) => c.status)).toEqual([200, 200, 200, 200, 200]);
    const full = await stream(admin);
    expect(full.status).toBe(503);
    expect(full.json()).toMatchObject({ code: 'STREAMS_FULL' });
    expect(full.headers['retry-after']).toBe('5');
    cs[0]!.close();
    await sleep(200);
    const next = await stream(admin);
    expect(next.status).toBe(200);
    for (const c of [...cs, next]) c.close();
  });
});

describe('live event stream at shutdown', () => {
  it('ends open streams, so that the service stops at once (clients reconnect elsewhere)', async () => {
    const svc = await startService({ env: ENV });
    const c = await SseClient.open(svc.url, '/events/stream', { token: await svc.token('admin') });
    expect(c.status).toBe(200);
    const t0 = Date.now();
    await svc.stop();
    await c.until(() => c.ended, 3000, 'the stream to end');
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('live event stream across instances (PostgreSQL and Redis)', () => {
  let a: TestService;
  let b: TestService;
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = new Sandbox(POSTGRES_REDIS, 'stream2');
    a = await startService({ sandbox, env: ENV });
    b = await startService({ sandbox, env: ENV });
  });
  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await sandbox?.cleanup();
  });

  it('delivers on one instance what another recorded, and resumes there from the other’s Last-Event-ID', async () => {
    const site = uniqueLabel('x');
    const ta = await a.token('admin');
    const tb = await b.token('admin');
    const onA = await SseClient.open(a.url, '/events/stream', { token: ta });
    const onB = await SseClient.open(b.url, '/events/stream', { token: tb });
    try {
      const t0 = Date.now();
      await upload(a, ta, site, 'cam-1');
      await onB.until(() => onB.messages.length === 1, 5000, 'B to hear of A’s event');
      // Pushed over Redis (the fallback poll would take up to 30 s).
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(onB.messages[0]!.data.event).toMatchObject({ site, camera: 'cam-1' });
      await onA.until(() => onA.messages.length === 1);
      const last = onA.lastId!;
      onA.close();
      await upload(b, tb, site, 'cam-2');
      await upload(a, ta, site, 'cam-3');
      await Promise.all([a.events.recorder.flush(), b.events.recorder.flush()]);
      const resumed = await SseClient.open(b.url, '/events/stream', { token: tb, lastEventId: last });
      await resumed.until(() => resumed.messages.length === 2, 5000, 'the two events missed');
      expect(eventsOf(resumed).map((e) => e.camera).sort()).toEqual(['cam-2', 'cam-3']);
      resumed.close();
    } finally {
      onA.close();
      onB.close();
    }
  });
});
