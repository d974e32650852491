// Viewer socket parameters (max_fps, rendition, preview_width; wait and with_id): a bad value refuses the socket with
// HTTP 400 JSON naming the parameter, before the upgrade, so no frame is ever sent; parameters that
// are not ours are ignored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { connect, defaultMeta, jpeg, postFrame, refusedUpgrade, uniqueLabel } from '../helpers/frames.js';
import { parseViewerOptions } from '../../src/streaming/viewer-options.js';

describe('viewer socket parameters', () => {
  let svc: TestService;
  let admin: string;
  const label = uniqueLabel('opts');
  beforeAll(async () => {
    svc = await startService({ env: { PREVIEW_MAX_WIDTH: '800' } });
    admin = await svc.token('admin');
    await postFrame(svc.url, admin, { label, key: 'cam', ...defaultMeta }, jpeg(1));
  });
  afterAll(async () => svc?.stop());

  const routes = [`/ws/labels/${label}`, `/ws/stream/${label}/cam`];
  const bad: Array<[string, string]> = [
    ['max_fps=0', 'max_fps'],
    ['max_fps=abc', 'max_fps'],
    ['max_fps=-1', 'max_fps'],
    ['max_fps=31', 'max_fps'],
    ['max_fps=0.1', 'max_fps'],
    ['max_fps=1e1', 'max_fps'],
    ['max_fps=', 'max_fps'],
    ['max_fps=2&max_fps=3', 'max_fps'],
    ['rendition=huge', 'rendition'],
    ['rendition=PREVIEW', 'rendition'],
    ['rendition=preview&preview_width=801', 'preview_width'],
    ['rendition=preview&preview_width=0', 'preview_width'],
    ['rendition=preview&preview_width=20.5', 'preview_width'],
    ['rendition=preview&preview_width=wide', 'preview_width'],
    ['preview_width=99999999', 'preview_width'],
    ['wait=maybe', 'wait'],
    ['wait=true&wait=false', 'wait'],
    ['with_id=1', 'with_id'],
  ];

  for (const route of routes) {
    it.each(bad)(`refuses ${route.split('/')[2]} ?%s with 400 naming %s, before the upgrade`, async (query, param) => {
      const r = await refusedUpgrade(svc.url, `${route}?${query}`, admin);
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('BAD_REQUEST');
      expect(r.body.detail).toMatch(new RegExp(`^${param} `));
    });
  }

  it('refuses bad parameters even without a token (nothing is opened either way)', async () => {
    const r = await refusedUpgrade(svc.url, `${routes[0]}?max_fps=0`, null);
    expect(r).toEqual({ status: 400, body: { detail: 'max_fps must be a number from 0.2 to 30, got "0"', code: 'BAD_REQUEST' } });
  });

  it('says so to a plain HTTP request too', async () => {
    const res = await fetch(`${svc.url}${routes[0]}?rendition=huge`, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ detail: 'rendition must be "full" or "preview", got "huge"', code: 'BAD_REQUEST' });
  });

  it('accepts good values and ignores parameters that are not its own', async () => {
    for (const query of ['max_fps=0.2', 'max_fps=30&rendition=full', 'rendition=preview&preview_width=800', 'max_fps=2.5&rendition=preview&junk=1&x']) {
      const v = await connect(svc.url, `${routes[0]}?${query}`, admin);
      await v.until(() => v.frames.length === 1, 3000, query);
      expect(v.closed).toBeNull();
      v.close();
    }
  });

  it('reads the defaults and bounds', () => {
    const none = { wait: false, withId: false };
    expect(parseViewerOptions({}, 640)).toEqual({ maxFps: null, rendition: 'full', previewWidth: 320, ...none });
    expect(parseViewerOptions({ rendition: 'preview' }, 200)).toEqual({ maxFps: null, rendition: 'preview', previewWidth: 200, ...none });
    expect(parseViewerOptions({ max_fps: '.5', preview_width: '16', token: 'x' }, 640)).toEqual({ maxFps: 0.5, rendition: 'full', previewWidth: 16, ...none });
    expect(parseViewerOptions({ wait: 'true', with_id: 'false' }, 640)).toMatchObject({ wait: true, withId: false });
  });
});
