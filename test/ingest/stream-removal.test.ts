// DELETE /streams/{label}/{key}: uploaders of the site (and admins) remove a camera from every store
// and instance; its viewers are told at once; others are refused and nothing changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, startService, STORES, type TestService } from '../helpers/service.js';
import { call, eventually } from '../helpers/http.js';
import { connect, defaultMeta, jpeg, postFrame, seqOf, uniqueLabel } from '../helpers/frames.js';

describe.each(STORES)('removing a camera, %s store', (store) => {
  let svc: TestService;
  let admin: string;
  beforeAll(async () => {
    svc = await startService({ store });
    admin = await svc.token('admin');
  });
  afterAll(async () => svc?.stop());

  const post = (token: string, label: string, key: string, seq: number) => postFrame(svc.url, token, { label, key, ...defaultMeta }, jpeg(seq));
  const remove = (token: string | null, label: string, key: string) =>
    call(svc.url, 'DELETE', `/streams/${encodeURIComponent(label)}/${encodeURIComponent(key)}`, { token });
  const labels = async () => (await call(svc.url, 'GET', '/labels', { token: admin })).body.labels as string[];

  it('takes the camera off the site, tells push viewers, closes its pull sockets', async () => {
    const site = uniqueLabel('yard');
    const producer = await svc.token(`prod-${site}`, 'model_manager', [site]);
    expect((await post(producer, site, 'cam-a', 1)).status).toBe(200);
    expect((await post(producer, site, 'cam-b', 1)).status).toBe(200);
    const push = await connect(svc.url, `/ws/labels/${encodeURIComponent(site)}`, admin);
    await push.until(() => push.frames.length === 2);
    const pull = await connect(svc.url, `/ws/stream/${encodeURIComponent(site)}/cam-a`, admin);
    pull.send('{"action":"pull"}');
    await pull.until(() => pull.frames.length === 1);

    expect((await remove(producer, site, 'cam-a')).status).toBe(204);
    await push.until(() => push.texts.length === 1, 3000, 'the removal notice');
    expect(push.texts).toEqual([{ removed: 'cam-a' }]);
    expect(await pull.waitClose()).toEqual({ code: 1000, reason: 'Stream removed' });
    expect(push.closed).toBeNull();
    expect(await labels()).toContain(site); // cam-b still runs
    expect((await remove(producer, site, 'cam-a')).status).toBe(404);

    expect((await remove(admin, site, 'cam-b')).status).toBe(204);
    expect(await labels()).not.toContain(site);

    // A frame uploaded later starts the camera again, and the open viewer gets it.
    expect((await post(producer, site, 'cam-a', 2)).status).toBe(200);
    await push.until(() => push.frames.length === 3);
    expect([push.frames[2]!.header.key, seqOf(push.frames[2]!.image).seq]).toEqual(['cam-a', 2]);
    expect(await labels()).toContain(site);
    push.close();
  });

  it('refuses those who may not upload to the site, and changes nothing', async () => {
    const site = uniqueLabel('yard');
    const producer = await svc.token(`prod2-${site}`, 'model_manager', [site]);
    expect((await post(producer, site, 'cam', 1)).status).toBe(200);
    const watcher = await svc.token(`watch-${site}`, 'user', [site]);
    const stranger = await svc.token(`other-${site}`, 'model_manager', ['elsewhere']);
    expect((await remove(null, site, 'cam')).status).toBe(401);
    for (const token of [watcher, stranger]) {
      const r = await remove(token, site, 'cam');
      expect(r.status).toBe(403);
      expect(r.body.code).toBe('FORBIDDEN');
    }
    expect((await remove(admin, site, 'x'.repeat(300))).status).toBe(422);
    expect(await labels()).toContain(site);
  });
});

describe('removing a camera with two instances', () => {
  const sandbox = new Sandbox();
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    [a, b] = [await startService({ store: 'redis', sandbox }), await startService({ store: 'redis', sandbox })];
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await sandbox.cleanup();
  });

  it('reaches the other instance’s index and viewers at once', async () => {
    const site = uniqueLabel('yard');
    const token = await a.token('boss');
    expect((await postFrame(a.url, token, { label: site, key: 'cam', ...defaultMeta }, jpeg(1))).status).toBe(200);
    const onB = await connect(b.url, `/ws/labels/${encodeURIComponent(site)}`, token);
    await onB.until(() => onB.frames.length === 1);
    expect((await call(a.url, 'DELETE', `/streams/${encodeURIComponent(site)}/cam`, { token })).status).toBe(204);
    await onB.until(() => onB.texts.length === 1, 2000, 'the removal on B');
    expect(onB.texts).toEqual([{ removed: 'cam' }]);
    await eventually(async () => !(await call(b.url, 'GET', '/labels', { token })).body.labels.includes(site), 1000, 'B to drop the site');
    onB.close();
  });
});
