// Viewer and producer sockets require a valid token and check the site (DESIGN.md §2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { connect, defaultMeta, frameMessage, jpeg, postFrame, seqOf, uniqueLabel } from '../helpers/frames.js';
import { eventually } from '../helpers/http.js';

describe('socket authentication and site checks', () => {
  let svc: TestService;
  let admin: string;
  const site = uniqueLabel('north');
  const other = uniqueLabel('south');
  beforeAll(async () => {
    svc = await startService();
    admin = await svc.token('admin');
    for (const label of [site, other]) await postFrame(svc.url, admin, { label, key: 'cam', ...defaultMeta }, jpeg(1));
  });
  afterAll(async () => svc?.stop());

  const paths = (label: string) => [`/ws/labels/${label}`, `/ws/stream/${label}/cam`];

  it.each(['/ws/labels/x', '/ws/stream/x/cam', '/ws/frames'])('refuses %s without a token (1008)', async (path) => {
    const c = await connect(svc.url, path, null);
    expect(await c.waitClose()).toEqual({ code: 1008, reason: 'Missing authentication token' });
  });

  it.each(['/ws/labels/x', '/ws/stream/x/cam', '/ws/frames'])('answers a plain HTTP GET of %s with 426 JSON', async (path) => {
    const r = await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${admin}` } });
    expect(r.status).toBe(426);
    expect(await r.json()).toEqual({ detail: 'This endpoint is a WebSocket: connect with an Upgrade request', code: 'UPGRADE_REQUIRED' });
  });

  it('refuses a forged or malformed token (1008 Invalid token)', async () => {
    const forged = admin.slice(0, -4) + (admin.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    for (const t of [forged, 'not-a-jwt']) {
      const c = await connect(svc.url, `/ws/labels/${site}`, t);
      expect(await c.waitClose()).toEqual({ code: 1008, reason: 'Invalid token' });
    }
  });

  it('lets a site user watch their own site only', async () => {
    const token = await svc.token('watcher', 'user', [site]);
    for (const p of paths(site)) {
      const c = await connect(svc.url, p, token, 'header');
      if (p.startsWith('/ws/labels')) await c.until(() => c.frames.length === 1);
      expect(c.closed).toBeNull();
      c.close();
    }
    for (const p of paths(other)) {
      const c = await connect(svc.url, p, token);
      expect(await c.waitClose()).toEqual({ code: 1008, reason: 'Not allowed to view this site' });
    }
    const labels = await (await fetch(`${svc.url}/labels`, { headers: { authorization: `Bearer ${token}` } })).json();
    expect(labels).toEqual({ labels: [site] });
  });

  it('lets a model manager upload to its own sites only, and answers plain users that they may not upload', async () => {
    const mm = await svc.token('producer', 'model_manager', [site]);
    const c = await connect(svc.url, '/ws/frames', mm);
    c.send(frameMessage({ label: site, key: 'cam', ...defaultMeta }, jpeg(2)));
    c.send(frameMessage({ label: other, key: 'cam', ...defaultMeta }, jpeg(3)));
    await c.until(() => c.texts.length === 2);
    expect(c.texts[0]).toEqual({ status: 'ok', message: 'Frame stored successfully.' });
    expect(c.texts[1]).toMatchObject({ status: 'error' });
    c.close();
    expect((await postFrame(svc.url, mm, { label: other, key: 'cam', ...defaultMeta }, jpeg(4))).status).toBe(403);

    // A plain user's producer socket stays open (its token is good): each frame gets an error naming the role.
    const user = await svc.token('viewer-only', 'user', [site]);
    const u = await connect(svc.url, '/ws/frames', user);
    u.send(frameMessage({ label: site, key: 'cam', ...defaultMeta }, jpeg(5)));
    u.send(frameMessage({ label: other, key: 'cam', ...defaultMeta }, jpeg(6)));
    await u.until(() => u.texts.length === 2);
    const roleError = { status: 'error', code: 'UPLOAD_FORBIDDEN', message: "Role 'user' may not upload frames (uploaders are admin and model_manager)" };
    expect(u.texts).toEqual([roleError, roleError]);
    expect(u.closed).toBeNull();
    u.close();
    const r = await postFrame(svc.url, user, { label: site, key: 'cam', ...defaultMeta }, jpeg(5));
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ code: 'UPLOAD_FORBIDDEN', detail: roleError.message });
    expect(seqOf((await svc.store.latest(site, 'cam'))!.frame).seq).toBe(2);
  });

  it('judges a producer socket by its newest rights: granted, then revoked, without reconnecting', async () => {
    const name = `promoted-${Math.random().toString(36).slice(2, 8)}`;
    const token = await svc.token(name, 'user', [site]);
    const c = await connect(svc.url, '/ws/frames', token);
    const send = async (n: number) => {
      const before = c.texts.length;
      c.send(frameMessage({ label: site, key: 'cam', ...defaultMeta }, jpeg(n)));
      await c.until(() => c.texts.length === before + 1);
      return c.texts[before];
    };
    expect(await send(10)).toMatchObject({ status: 'error', code: 'UPLOAD_FORBIDDEN' });
    const id = (await svc.accounts.users.listUsers()).find((x) => x.username === name)!.id;
    await svc.accounts.users.updateUser(null, id, { role: 'model_manager' });
    await eventually(async () => (await send(11)).status === 'ok', 3000, 'the promotion to count');
    await svc.accounts.users.updateUser(null, id, { sites: [] });
    await eventually(async () => (await send(12)).code === 'SITE_FORBIDDEN', 3000, 'the lost site to count');
    expect(c.closed).toBeNull();
    c.close();
  });
});
