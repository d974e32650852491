// The viewer keeps itself connected: access tokens refreshed before they expire, a service restart
// under an open wall ridden out with backoff (saying so, and how old the picture is), and an ended
// session sending the user to the login page with the reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startService, testPassword, type TestService } from '../helpers/service.js';
import { connect, postFrame, sleep, uniqueLabel } from '../helpers/frames.js';
import { launchChromium, logIn, openPage, solidJpeg } from '../helpers/browser.js';

describe('web viewer sessions and reconnects', () => {
  let svc: TestService;
  let browser: Browser;

  beforeAll(async () => {
    // Short-lived access tokens, so that refreshing before expiry is seen within the test.
    [svc, browser] = await Promise.all([startService({ env: { ACCESS_TOKEN_TTL: '10' } }), launchChromium()]);
    await svc.token('root', 'admin');
  });
  afterAll(async () => {
    await browser?.close();
    await svc?.stop();
  });

  /** A camera posting a frame every 250 ms, with a fresh producer token every few seconds; survives the restart. */
  function camera(label: string, key: string, image: Buffer): () => Promise<void> {
    let running = true;
    const loop = (async () => {
      let token = '';
      let tokenAt = 0;
      while (running) {
        try {
          if (Date.now() - tokenAt > 4000) {
            token = await svc.token('root');
            tokenAt = Date.now();
          }
          await postFrame(svc.url, token, { label, key, warnings_json: '{}', cone_polygons_json: '[]', pole_polygons_json: '[]' }, image);
        } catch {
          tokenAt = 0; // the service is restarting
        }
        await sleep(250);
      }
    })();
    return async () => {
      running = false;
      await loop;
    };
  }

  it('refreshes tokens before they expire, and reconnects by itself when the service restarts', async () => {
    const label = uniqueLabel();
    const stop = camera(label, 'cam', await solidJpeg(320, 180, [90, 120, 150]));
    const { page: p, context, errors } = await openPage(browser);
    try {
      await logIn(p, svc.url, 'root', testPassword('root'), `#/site/${encodeURIComponent(label)}`);
      await p.waitForSelector('.tile[data-camera="cam"][data-state="live"]');
      const stored = () => p.evaluate(() => JSON.parse(localStorage.getItem('framestream.session') ?? 'null')?.access_token as string | undefined);
      const first = await stored();
      // A 10 s token is replaced before it runs out, twice; the wall stays live.
      await p.waitForFunction((t) => JSON.parse(localStorage.getItem('framestream.session')!).access_token !== t, first, { timeout: 12_000 });
      const second = await stored();
      await p.waitForFunction((t) => JSON.parse(localStorage.getItem('framestream.session')!).access_token !== t, second, { timeout: 12_000 });
      expect(await p.getAttribute('.tile[data-camera="cam"]', 'data-state')).toBe('live');

      const restarted = svc.restart(2500);
      await p.waitForSelector('.wall-view .status[data-state="retrying"]', { timeout: 5000 });
      await p.waitForFunction(() => /Reconnecting/.test(document.querySelector('.wall-view .status')?.textContent ?? ''));
      await p.waitForFunction(() => /What you see is from \d+ s ago/.test(document.querySelector('.wall-view .status')?.textContent ?? ''), undefined, { timeout: 5000 });
      await restarted;
      // The events panel comes back too: its feed was opened with a token long expired, so it gets a fresh one.
      const warn = await postFrame(svc.url, await svc.token('root'), { label, key: 'crane', warnings_json: '{"warning_no_hardhat": {"count": 1}}', cone_polygons_json: '[]', pole_polygons_json: '[]' }, await solidJpeg(160, 90, [90, 120, 150]));
      expect(warn.status).toBe(200);
      await p.waitForSelector('.events-panel[data-state="open"] .event-item[data-camera="crane"]', { timeout: 20_000 });
      const before = await p.evaluate(() => window.__framestream!.stats.received);
      await p.waitForSelector('.wall-view .status[data-state="open"]', { timeout: 20_000 });
      await p.waitForFunction((n) => window.__framestream!.stats.received > n + 3, before, { timeout: 10_000 });
      expect(await p.getAttribute('.tile[data-camera="cam"]', 'data-state')).toBe('live');
      expect(await p.textContent('.wall-view .status')).toBe('Live');
      expect(errors).toEqual([]);
    } finally {
      await stop();
      await context.close();
    }
  }, 60_000);

  it('keeps retrying a wall refused with 1013 (service full) and connects once there is room', async () => {
    const full = await startService({ env: { MAX_VIEWERS: '1' } });
    try {
      const label = uniqueLabel();
      const token = await full.token('ivy', 'admin');
      await postFrame(full.url, token, { label, key: 'cam', warnings_json: '{}', cone_polygons_json: '[]', pole_polygons_json: '[]' }, await solidJpeg(160, 90, [90, 120, 150]));
      const other = await connect(full.url, `/ws/labels/${encodeURIComponent(label)}`, token); // takes the only place
      await other.until(() => other.frames.length === 1);
      const { page: p, context } = await openPage(browser);
      try {
        await logIn(p, full.url, 'ivy', testPassword('ivy'), `#/site/${encodeURIComponent(label)}`);
        await p.waitForFunction(() => /busy or restarting/.test(document.querySelector('.wall-view .status')?.textContent ?? ''));
        expect(await p.$('.tile')).toBeNull();
        other.close();
        // A fresh frame: the first may be older than the 5 s after which a tile shows its camera offline.
        await postFrame(full.url, token, { label, key: 'cam', warnings_json: '{}', cone_polygons_json: '[]', pole_polygons_json: '[]' }, await solidJpeg(160, 90, [90, 120, 150]));
        await p.waitForSelector('.tile[data-camera="cam"][data-state="live"]', { timeout: 20_000 });
        expect(await p.textContent('.wall-view .status')).toBe('Live');
      } finally {
        await context.close();
      }
    } finally {
      await full.stop();
    }
  }, 40_000);

  it('sends the user to the login page, saying why, when their session is ended elsewhere', async () => {
    const label = uniqueLabel();
    await svc.token('frank', 'user', [label]);
    const stop = camera(label, 'cam', await solidJpeg(160, 90, [90, 120, 150]));
    const { page: p, context } = await openPage(browser);
    try {
      await logIn(p, svc.url, 'frank', testPassword('frank'), `#/site/${encodeURIComponent(label)}`);
      await p.waitForSelector('.tile[data-camera="cam"]');
      const id = (await svc.accounts.users.listUsers()).find((u) => u.username === 'frank')!.id;
      await svc.accounts.users.updateUser(null, id, { password: 'a-new-password-9' }); // ends every session of frank
      await p.waitForSelector('form.login .notice', { timeout: 8000 });
      expect(await p.textContent('form.login .notice')).toBe('Your session has ended. Please log in again.');
      // Back to the same wall after logging in again.
      await p.fill('input[name=username]', 'frank');
      await p.fill('input[name=password]', 'a-new-password-9');
      await p.click('form.login button[type=submit]');
      await p.waitForSelector('.tile[data-camera="cam"]');
      expect(decodeURIComponent(new URL(p.url()).hash)).toBe(`#/site/${label}`);
    } finally {
      await stop();
      await context.close();
    }
  }, 30_000);
});
