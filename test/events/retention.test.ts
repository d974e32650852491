// Retention: an admin sets the period (stored in the database, so every instance and a restart use
// it); the service itself deletes events last seen longer ago, with their snapshots, at once and
// then on every sweep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES, SQLITE, startService, type TestService } from '../helpers/service.js';
import { call, eventually } from '../helpers/http.js';
import { defaultMeta, jpeg, postFrame, sleep, uniqueLabel } from '../helpers/frames.js';

describe.each([SQLITE, POSTGRES])('retention ($name)', (backend) => {
  let svc: TestService;
  let admin: string;
  beforeAll(async () => {
    svc = await startService({ backend, env: { EVENT_FLUSH_MS: '20', EVENT_QUIET_MS: '100', EVENT_RETENTION_SWEEP_MS: '200' }, name: 'retention' });
    admin = await svc.token('admin');
  });
  afterAll(async () => svc?.stop());

  const record = async (site: string, camera: string) => {
    expect((await postFrame(svc.url, admin, { label: site, key: camera, ...defaultMeta }, jpeg(1))).status).toBe(200);
    await svc.events.recorder.flush();
    return (await call(svc.url, 'GET', `/events?site=${site}&camera=${camera}`, { token: admin })).body.events[0];
  };
  const status = async (path: string) => (await call(svc.url, 'GET', path, { token: admin })).status;
  /** Rows left in the database for an event: its snapshots and reviews go with it. */
  const rows = async (id: number) => {
    const db = svc.connections.database.db;
    const n = async (t: 'event_snapshots' | 'event_reviews') =>
      Number((await db.selectFrom(t).select((eb) => eb.fn.countAll().as('n')).where('event_id', '=', id).executeTakeFirstOrThrow()).n);
    return { snapshots: await n('event_snapshots'), reviews: await n('event_reviews') };
  };

  it('deletes events past the period set by an admin, with their snapshots, by itself', async () => {
    const site = uniqueLabel('keep');
    const old = await record(site, 'old');
    await sleep(2500);
    expect((await call(svc.url, 'PATCH', `/events/${old.id}`, { token: admin, body: { note: 'looked at' } })).status).toBe(200);
    expect(await rows(old.id)).toEqual({ snapshots: 1, reviews: 1 });
    const recent = await record(site, 'recent');
    const put = await call(svc.url, 'PUT', '/events/retention', { token: admin, body: { retention_seconds: 2 } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ retention_seconds: 2, default_seconds: 30 * 86400, set_by_admin: true });

    await eventually(async () => (await status(`/events/${old.id}`)) === 404, 3000, 'the old event to go');
    expect(await status(old.snapshot_url)).toBe(404);
    expect(await rows(old.id)).toEqual({ snapshots: 0, reviews: 0 });
    expect(await status(`/events/${recent.id}`)).toBe(200);
    expect(await status(recent.snapshot_url)).toBe(200);
    // Then the periodic sweep takes the recent one too, once it is older than the period.
    await eventually(async () => (await status(`/events/${recent.id}`)) === 404, 5000, 'the recent event to go');
    expect(await status(recent.snapshot_url)).toBe(404);
    expect((await call(svc.url, 'GET', '/events/retention', { token: admin })).body.retention_seconds).toBe(2);
    await call(svc.url, 'PUT', '/events/retention', { token: admin, body: { retention_seconds: 86400 } });
  });
});
