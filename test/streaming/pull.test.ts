// Pull viewers (WS /ws/stream/{label}/{key}): each pull returns a frame the socket has not had,
// waiting for the next one when there is none; commands and errors as the old backend answered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, STORES, type TestService } from '../helpers/service.js';
import { connect, defaultMeta, jpeg, postFrame, seqOf, sleep, uniqueLabel } from '../helpers/frames.js';

describe.each(STORES)('pull viewers, %s store', (store) => {
  let svc: TestService;
  let admin: string;
  beforeAll(async () => {
    svc = await startService({ store, env: { PULL_IDLE_TIMEOUT_MS: '1500' } });
    admin = await svc.token('admin');
  });
  afterAll(async () => svc?.stop());
  const post = (label: string, key: string, seq: number) => postFrame(svc.url, admin, { label, key, ...defaultMeta }, jpeg(seq));

  it('answers ping, unknown actions and bad JSON, and stays open', async () => {
    const label = uniqueLabel();
    const c = await connect(svc.url, `/ws/stream/${label}/cam`, admin);
    c.send('{"action":"ping"}');
    c.send('{"type":"ping"}');
    c.send('{"action":"dance"}');
    c.send('not json');
    await c.until(() => c.texts.length === 4);
    expect(c.texts).toEqual([{ action: 'pong' }, { action: 'pong' }, { error: 'unknown action' }, { error: 'Invalid JSON format' }]);
    expect(c.closed).toBeNull();
    c.close();
  });

  it('returns the newest unseen frame, never the same one twice, and waits for the next', async () => {
    const label = uniqueLabel();
    await post(label, 'cam', 1);
    await post(label, 'cam', 2);
    const c = await connect(svc.url, `/ws/stream/${label}/cam`, admin);
    c.send('{"action":"pull"}');
    await c.until(() => c.frames.length === 1);
    expect(seqOf(c.frames[0]!.image).seq).toBe(2);
    expect(Object.keys(c.frames[0]!.header)).toEqual(['id', 'warnings', 'cone_polygons', 'pole_polygons', 'detection_items', 'width', 'height']);
    // Nothing new: the reply waits for the next frame.
    c.send('{"action":"pull"}');
    c.send('{"action":"pull"}');
    await sleep(300);
    expect(c.frames.length).toBe(1);
    await post(label, 'cam', 3);
    await c.until(() => c.frames.length === 2);
    await sleep(200);
    expect(c.frames.length).toBe(2); // one reply for the pulls made while waiting
    expect(seqOf(c.frames[1]!.image).seq).toBe(3);
    expect(c.frames[1]!.header.id > c.frames[0]!.header.id || c.frames[1]!.header.id.length > c.frames[0]!.header.id.length).toBe(true);
    c.close();
  });

  it('waits for the first frame of a camera that has none yet', async () => {
    const label = uniqueLabel();
    const c = await connect(svc.url, `/ws/stream/${label}/new-cam`, admin);
    c.send('{"action":"pull"}');
    await sleep(200);
    await post(label, 'new-cam', 9);
    await c.until(() => c.frames.length === 1);
    expect(seqOf(c.frames[0]!.image).seq).toBe(9);
    c.close();
  });

  it('gives 20 pull viewers no duplicates while frames stream', async () => {
    const label = uniqueLabel();
    await post(label, 'cam', 0);
    const clients = await Promise.all(Array.from({ length: 20 }, () => connect(svc.url, `/ws/stream/${label}/cam`, admin)));
    for (const c of clients) {
      c.ws.on('message', (_d, bin) => { if (bin) setTimeout(() => c.send('{"action":"pull"}'), 5); });
      c.send('{"action":"pull"}');
    }
    for (let s = 1; s <= 30; s++) {
      await post(label, 'cam', s);
      await sleep(20);
    }
    await sleep(300);
    for (const c of clients) {
      const seqs = c.frames.map((f) => seqOf(f.image).seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs.at(-1)).toBe(30);
      c.close();
    }
  });

  it('closes a pull socket that sends nothing for the idle limit (1000, Receive timeout)', async () => {
    const c = await connect(svc.url, `/ws/stream/${uniqueLabel()}/cam`, admin);
    const closed = await c.waitClose(4000);
    expect(closed).toEqual({ code: 1000, reason: 'Receive timeout' });
  });
});
