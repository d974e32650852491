// Safety events recorded from uploaded frames: one per distinct warning and camera, extended within
// the quiet period, a new one after it; both warning shapes; frames without warnings make none;
// several instances on one PostgreSQL record each frame once and group across instances.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES, POSTGRES_REDIS, SQLITE, Sandbox, startService, type TestService } from '../helpers/service.js';
import { call } from '../helpers/http.js';
import { connect, defaultMeta, frameMessage, jpeg, postFrame, sleep, uniqueLabel } from '../helpers/frames.js';

const QUIET_MS = 1000;
const ENV = { EVENT_QUIET_MS: String(QUIET_MS), EVENT_FLUSH_MS: '20' };
const hardhat = (count: number) => JSON.stringify({ warning_no_hardhat: { count } });

async function upload(svc: TestService, token: string, label: string, key: string, warnings: string, seq: number): Promise<void> {
  const r = await postFrame(svc.url, token, { label, key, ...defaultMeta, warnings_json: warnings }, jpeg(seq, 64, 7));
  expect(r.status).toBe(200);
}

async function events(svc: TestService, token: string, label: string): Promise<any[]> {
  await svc.events.recorder.flush();
  const r = await call(svc.url, 'GET', `/events?site=${encodeURIComponent(label)}`, { token });
  expect(r.status).toBe(200);
  return r.body.events;
}

async function image(svc: TestService, token: string, path: string): Promise<{ status: number; type: string | null; bytes: Buffer }> {
  const res = await fetch(svc.url + path, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
}

describe.each([SQLITE, POSTGRES])('safety events from frames ($name)', (backend) => {
  let svc: TestService;
  let admin: string;
  beforeAll(async () => {
    svc = await startService({ backend, env: ENV, name: 'recording' });
    admin = await svc.token('admin');
  });
  afterAll(async () => svc?.stop());

  it('records one event per distinct warning of the code object, with its words, count and snapshot', async () => {
    const label = uniqueLabel();
    await upload(svc, admin, label, 'cam-1', '{"warning_no_hardhat":{"count":2},"warning_close_to_machinery":{"count":1}}', 1);
    const list = await events(svc, admin, label);
    expect(list).toHaveLength(2);
    const hat = list.find((e) => e.code === 'warning_no_hardhat');
    expect(hat).toMatchObject({
      site: label, camera: 'cam-1', kind: 'code', title: 'No hardhat', words: '2 people are not wearing a hardhat',
      count: 2, peak_count: 2, frames_seen: 1, status: 'new', ongoing: true,
      snapshot_url: `/events/${hat.id}/snapshot.jpg`, peak_snapshot_url: `/events/${hat.id}/peak.jpg`,
    });
    expect(hat.first_seen).toBe(hat.last_seen);
    expect(list.find((e) => e.code === 'warning_close_to_machinery')).toMatchObject({ words: '1 people are too close to machinery', count: 1 });
    const snap = await image(svc, admin, hat.snapshot_url);
    expect(snap).toMatchObject({ status: 200, type: 'image/jpeg' });
    expect(snap.bytes.equals(jpeg(1, 64, 7))).toBe(true);
  });

  it('extends the event within the quiet period, keeps the frame with the highest count, and opens another after it', async () => {
    const label = uniqueLabel();
    await upload(svc, admin, label, 'cam-1', hardhat(1), 1);
    await upload(svc, admin, label, 'cam-1', hardhat(3), 2);
    await upload(svc, admin, label, 'cam-1', '[]', 3); // a frame without the warning does not end it
    await upload(svc, admin, label, 'cam-1', hardhat(2), 4);
    await upload(svc, admin, label, 'cam-2', hardhat(1), 5); // another camera: its own event
    let list = await events(svc, admin, label);
    expect(list.map((e) => e.camera).sort()).toEqual(['cam-1', 'cam-2']);
    const ev = list.find((e) => e.camera === 'cam-1');
    expect(ev).toMatchObject({ frames_seen: 3, count: 2, peak_count: 3, words: '3 people are not wearing a hardhat' });
    expect(Date.parse(ev.last_seen)).toBeGreaterThanOrEqual(Date.parse(ev.first_seen));
    expect((await image(svc, admin, ev.snapshot_url)).bytes.equals(jpeg(1, 64, 7))).toBe(true);
    expect((await image(svc, admin, ev.peak_snapshot_url)).bytes.equals(jpeg(2, 64, 7))).toBe(true);

    // Written in between (another batch): still the same event.
    await upload(svc, admin, label, 'cam-1', hardhat(5), 6);
    list = await events(svc, admin, label);
    expect(list).toHaveLength(2);
    expect(list.find((e) => e.camera === 'cam-1')).toMatchObject({ id: ev.id, frames_seen: 4, peak_count: 5 });
    expect((await image(svc, admin, ev.peak_snapshot_url)).bytes.equals(jpeg(6, 64, 7))).toBe(true);

    await sleep(QUIET_MS + 300);
    await upload(svc, admin, label, 'cam-1', hardhat(1), 7);
    list = await events(svc, admin, label);
    expect(list).toHaveLength(3);
    expect(list[0]).toMatchObject({ camera: 'cam-1', frames_seen: 1, count: 1 });
    expect(list[0].id).toBeGreaterThan(ev.id);
    expect(list.find((e) => e.id === ev.id)).toMatchObject({ frames_seen: 4, ongoing: false });
  });

  it('reads the older sentence list: the sentence is the code and the words', async () => {
    const label = uniqueLabel();
    const sentence = 'Warning: Someone is not wearing a hardhat!';
    await upload(svc, admin, label, 'cam', JSON.stringify([sentence, sentence, 'Warning: Too close to machinery!']), 1);
    await upload(svc, admin, label, 'cam', JSON.stringify([sentence]), 2);
    const list = await events(svc, admin, label);
    expect(list).toHaveLength(2);
    expect(list.find((e) => e.code === sentence)).toMatchObject({ kind: 'sentence', words: sentence, title: sentence, peak_count: 2, count: 1, frames_seen: 2 });
  });

  it('makes no event from frames without warnings, nor from refused uploads', async () => {
    const label = uniqueLabel();
    for (const [i, w] of ['', '[]', '{}', 'null', '{"warning_no_hardhat":{"count":0}}', '[1,2]'].entries()) await upload(svc, admin, label, 'cam', w, i);
    const bad = await postFrame(svc.url, admin, { label, key: 'cam', ...defaultMeta, warnings_json: '{"warning_no_hardhat":{"count":2}}' }, Buffer.from('GIF89a'));
    expect(bad.status).toBe(415);
    expect(await events(svc, admin, label)).toEqual([]);
  });

  it('records frames uploaded over WS /ws/frames', async () => {
    const label = uniqueLabel();
    const ws = await connect(svc.url, '/ws/frames', admin);
    ws.send(frameMessage({ label, key: 'cam', ...defaultMeta, warnings_json: hardhat(4) }, jpeg(9)));
    await ws.until(() => ws.texts.length === 1);
    ws.close();
    expect(await events(svc, admin, label)).toMatchObject([{ camera: 'cam', peak_count: 4 }]);
  });

  it('closes a resolved event: the same warning afterwards opens a new one', async () => {
    const label = uniqueLabel();
    await upload(svc, admin, label, 'cam', hardhat(1), 1);
    const [ev] = await events(svc, admin, label);
    expect((await call(svc.url, 'PATCH', `/events/${ev.id}`, { token: admin, body: { status: 'resolved' } })).status).toBe(200);
    await upload(svc, admin, label, 'cam', hardhat(1), 2);
    const list = await events(svc, admin, label);
    expect(list.map((e) => [e.status, e.frames_seen])).toEqual([['new', 1], ['resolved', 1]]);
  });
});

describe('several instances on one PostgreSQL and Redis', () => {
  let a: TestService;
  let b: TestService;
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = new Sandbox(POSTGRES_REDIS, 'recording2');
    a = await startService({ sandbox, env: ENV });
    b = await startService({ sandbox, env: ENV });
  });
  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await sandbox?.cleanup();
  });

  it('records each frame once, and one camera’s frames make one event whichever instance received them', async () => {
    const label = uniqueLabel();
    const ta = await a.token('admin');
    const tb = await b.token('admin');
    for (let i = 0; i < 6; i++) {
      if (i % 2 === 0) await upload(a, ta, label, 'cam', hardhat(1 + i), i);
      else await upload(b, tb, label, 'cam', hardhat(1 + i), i);
      if (i === 2) await Promise.all([a.events.recorder.flush(), b.events.recorder.flush()]);
    }
    await Promise.all([a.events.recorder.flush(), b.events.recorder.flush()]);
    const fromA = await events(a, ta, label);
    expect(fromA).toMatchObject([{ frames_seen: 6, peak_count: 6 }]);
    expect(await events(b, tb, label)).toEqual(fromA);
    expect((await image(b, tb, fromA[0].peak_snapshot_url)).bytes.equals(jpeg(5, 64, 7))).toBe(true);
  });
});
