// The web viewer in headless Chromium against the real service: log in (and its failures), the live
// wall with its overlays checked in canvas pixels, cameras appearing live, languages, offline and
// back, a camera opened large, the admin pages and a user who sees only their site, log out, phones.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startService, testPassword, type TestService } from '../helpers/service.js';
import { postFrame, uniqueLabel } from '../helpers/frames.js';
import { canvasPixels, canvasSize, launchChromium, logIn, openPage, OpenPages, solidJpeg } from '../helpers/browser.js';

const GREY: [number, number, number] = [128, 128, 128];
const isRed = ([r, g, b]: number[]) => r! > 200 && g! < 90 && b! < 90;
const isGrey = ([r, g, b]: number[]) => [r, g, b].every((c) => Math.abs(c! - 128) < 20);
const isBackground = ([r, g, b]: number[]) => r! < 40 && g! < 40 && b! < 45;

describe('web viewer', () => {
  let svc: TestService;
  let browser: Browser;
  let admin: string;
  const pages = new OpenPages(() => browser);

  beforeAll(async () => {
    [svc, browser] = await Promise.all([startService(), launchChromium()]);
    admin = await svc.token('root', 'admin');
  });
  afterAll(async () => {
    await browser?.close();
    await svc?.stop();
  });
  afterEach(async () => {
    expect(await pages.closeAll()).toEqual([]);
  });
  const page = (opts?: Parameters<typeof openPage>[1]) => pages.page(opts);

  const frame = async (label: string, key: string, image: Buffer, meta: Record<string, string> = {}) => {
    const r = await postFrame(svc.url, admin, { label, key, warnings_json: '{}', cone_polygons_json: '[]', pole_polygons_json: '[]', detection_items_json: '[]', width: '0', height: '0', ...meta }, image);
    expect(r.status).toBe(200);
  };

  it('logs in, stays logged in across a reload, and says plainly why a login fails', async () => {
    const { page: p } = await page();
    await p.goto(`${svc.url}/`);
    await p.waitForSelector('form.login');
    expect(new URL(p.url()).hash).toBe('#/login');

    await p.fill('input[name=username]', 'root');
    await p.fill('input[name=password]', 'not-the-password');
    await p.click('form.login button[type=submit]');
    await p.waitForSelector('.form-error:not([hidden])');
    expect(await p.textContent('.form-error')).toBe('Wrong username or password.');

    await svc.accounts.users.createUser({ username: 'gone', password: testPassword('gone'), role: 'user', is_active: false });
    await p.fill('input[name=username]', 'gone');
    await p.fill('input[name=password]', testPassword('gone'));
    await p.click('form.login button[type=submit]');
    await p.waitForFunction(() => document.querySelector('.form-error')?.textContent?.includes('deactivated'));
    expect(await p.textContent('.form-error')).toBe('This account is deactivated. Ask an admin to turn it back on.');

    await p.fill('input[name=username]', 'root');
    await p.fill('input[name=password]', testPassword('root'));
    await p.click('form.login button[type=submit]');
    await p.waitForSelector('.topbar .who');
    expect(new URL(p.url()).hash).toBe('#/');
    await p.reload();
    await p.waitForSelector('.topbar .who');
    expect(await p.textContent('.topbar .user')).toContain('root');
  });

  it('tells a rate-limited login how long to wait, and an unreachable server apart', async () => {
    const strict = await startService({ env: { LOGIN_MAX_FAILURES: '2' } });
    try {
      await strict.token('carol', 'user');
      const { page: p } = await page();
      await p.goto(`${strict.url}/#/login`);
      const limited = () => /Try again in \d+ s\./.test(document.querySelector('.form-error')?.textContent ?? '');
      // Two failures are allowed; the third attempt is refused with the wait.
      for (let i = 0; i < 3; i++) {
        await p.fill('input[name=username]', 'carol');
        await p.fill('input[name=password]', `wrong-${i}`);
        await p.click('form.login button[type=submit]');
        await p.waitForFunction(() => (document.querySelector('form.login button[type=submit]') as HTMLButtonElement).textContent === 'Log in');
        if (i < 2) expect(await p.textContent('.form-error')).toBe('Wrong username or password.');
      }
      await p.waitForFunction(limited);
      expect(await p.isDisabled('form.login button[type=submit]')).toBe(true);

      const { page: q } = await page();
      await q.goto(`${strict.url}/#/login`);
      await q.waitForSelector('form.login');
      await strict.stop();
      await q.fill('input[name=username]', 'carol');
      await q.fill('input[name=password]', testPassword('carol'));
      await q.click('form.login button[type=submit]');
      await q.waitForSelector('.form-error:not([hidden])');
      expect(await q.textContent('.form-error')).toBe('Cannot reach the server. Check the connection and try again.');
    } finally {
      await strict.stop().catch(() => {});
    }
  });

  it.each(['ImageDecoder', 'createImageBitmap'])('draws a frame with its boxes and polygons where they belong, and a second camera as it starts (%s)', async (decoder) => {
    const label = uniqueLabel();
    const { page: p } = await page();
    // Browsers without WebCodecs (Safari) decode with createImageBitmap: the same picture either way.
    if (decoder === 'createImageBitmap') await p.addInitScript(() => delete (window as { ImageDecoder?: unknown }).ImageDecoder);
    await logIn(p, svc.url, 'root', testPassword('root'), `#/site/${encodeURIComponent(label)}`);
    await p.waitForSelector('.wall-view .empty:not([hidden])'); // waiting, not an error

    // 320×320 image whose overlay coordinates are in a 640×640 space (the header's width/height).
    await frame(label, 'cam-a', await solidJpeg(320, 320, GREY), {
      detection_items_json: '[[100, 100, 300, 300, 0.9, 2, 17]]',
      cone_polygons_json: '[[[400, 400], [600, 400], [600, 600], [400, 600]]]',
      width: '640',
      height: '640',
    });
    const tileA = '.tile[data-camera="cam-a"]';
    await p.waitForSelector(`${tileA}[data-state="alarm"]`);
    const a = await canvasSize(p, `${tileA} canvas`);
    const s = Math.min(a.width / 640, a.height / 640);
    const ox = (a.width - 640 * s) / 2;
    const oy = (a.height - 640 * s) / 2;
    const at = (x: number, y: number): [number, number] => [ox + x * s, oy + y * s];
    const [leftEdge, rightEdge, centre, outsideBox, cone, pillar] = await canvasPixels(p, `${tileA} canvas`, [
      at(100, 200),
      at(300, 200),
      at(200, 200),
      at(50, 400),
      at(500, 500),
      [ox / 2, a.height / 2],
    ]);
    expect(isRed(leftEdge!), `left edge ${leftEdge}`).toBe(true);
    expect(isRed(rightEdge!), `right edge ${rightEdge}`).toBe(true);
    expect(isGrey(centre!), `inside the box ${centre}`).toBe(true);
    expect(isGrey(outsideBox!), `outside the box ${outsideBox}`).toBe(true);
    expect(cone![0]! - cone![2]!, `cone area ${cone}`).toBeGreaterThan(40); // orange over grey, still see-through
    expect(cone![2]!, `cone area ${cone}`).toBeGreaterThan(60);
    expect(isBackground(pillar!), `letterbox ${pillar}`).toBe(true);

    // A second camera, width/height "0": the image's own 480×270 is the coordinate space.
    await frame(label, 'cam-b', await solidJpeg(480, 270, GREY), { detection_items_json: '[[48, 27, 240, 135, 0.8, 5]]' });
    const tileB = '.tile[data-camera="cam-b"]';
    await p.waitForSelector(`${tileB}[data-state="live"]`);
    expect(await p.$$eval('.tile', (ts) => ts.map((t) => (t as HTMLElement).dataset.camera))).toEqual(['cam-a', 'cam-b']);
    const b = await canvasSize(p, `${tileB} canvas`);
    const sb = Math.min(b.width / 480, b.height / 270);
    const bx = (b.width - 480 * sb) / 2;
    const by = (b.height - 270 * sb) / 2;
    const [edge, inside] = await canvasPixels(p, `${tileB} canvas`, [
      [bx + 48 * sb, by + 81 * sb],
      [bx + 144 * sb, by + 81 * sb],
    ]);
    expect(edge![2]! > 160 && edge![0]! < 110, `person box edge ${edge}`).toBe(true);
    expect(isGrey(inside!), `inside ${inside}`).toBe(true);
    expect(await p.textContent('.wall-head .count')).toBe('2 cameras');
    expect(await p.evaluate(() => typeof (window as { ImageDecoder?: unknown }).ImageDecoder)).toBe(decoder === 'ImageDecoder' ? 'function' : 'undefined');
  });

  it('shows warnings as words in the chosen language, both shapes, never a raw code; the choice is remembered', async () => {
    const label = uniqueLabel();
    const img = await solidJpeg(160, 90, GREY);
    await frame(label, 'codes', img, { warnings_json: '{"warning_no_hardhat": {"count": 2}, "warning_fire": {"count": 1}, "warning_close_to_vehicle": {"count": 1}}' });
    await frame(label, 'sentences', img, { warnings_json: '["Warning: Someone is not wearing a hardhat!", "Crane load swinging over workers"]' });
    const { page: p } = await page();
    await logIn(p, svc.url, 'root', testPassword('root'), `#/site/${encodeURIComponent(label)}`);
    await p.waitForSelector('.tile[data-camera="sentences"] .warning');
    await p.waitForSelector('.tile[data-camera="codes"] .warning');
    const words = (cam: string) => p.$$eval(`.tile[data-camera="${cam}"] .warning`, (ls) => ls.map((l) => l.textContent));
    expect(await words('codes')).toEqual(['2 people are not wearing a hardhat', 'Fire: 1', '1 person is too close to a vehicle']);
    expect(await words('sentences')).toEqual(['No hardhat', 'Crane load swinging over workers']);
    expect(await p.getAttribute('.tile[data-camera="codes"]', 'data-alarm')).toBe('true');
    expect(await p.innerText('body')).not.toMatch(/warning_|detect_/);

    await p.selectOption('select.language', 'zh-TW');
    await p.waitForFunction(() => document.querySelector('.tile[data-camera="codes"] .warning')?.textContent === '有 2 人未戴安全帽');
    expect(await words('codes')).toEqual(['有 2 人未戴安全帽', 'Fire：1', '有 1 人太靠近車輛']);
    expect(await words('sentences')).toEqual(['未戴安全帽', 'Crane load swinging over workers']);
    expect(await p.textContent('.topbar nav a')).toBe('工地');
    expect(await p.innerText('body')).not.toMatch(/warning_|detect_/);

    await p.reload();
    await p.waitForSelector('.tile[data-camera="codes"] .warning');
    expect(await p.getAttribute('html', 'lang')).toBe('zh-TW');
    expect((await words('codes'))[0]).toBe('有 2 人未戴安全帽');
  });

  it('picks the language from the browser when none was chosen', async () => {
    const { page: p } = await page({ locale: 'zh-TW' });
    await p.goto(`${svc.url}/#/login`);
    await p.waitForSelector('form.login');
    expect(await p.textContent('form.login h1')).toBe('登入');
  });

  it('marks a camera offline with its last frame time when its frames stop, and online again when they resume', async () => {
    const label = uniqueLabel();
    const img = await solidJpeg(160, 90, GREY);
    await frame(label, 'gate', img);
    const { page: p } = await page();
    await logIn(p, svc.url, 'root', testPassword('root'), `#/site/${encodeURIComponent(label)}`);
    const tile = '.tile[data-camera="gate"]';
    await p.waitForSelector(`${tile}[data-state="live"]`);
    await p.waitForSelector(`${tile}[data-state="offline"]`, { timeout: 10_000 });
    expect(await p.textContent(`${tile} .badge`)).toMatch(/^Offline since \d\d:\d\d:\d\d/);
    await frame(label, 'gate', img);
    await p.waitForSelector(`${tile}[data-state="live"]`, { timeout: 3000 });
    expect(await p.textContent(`${tile} .tile-age`)).toMatch(/just now|\d s ago/);
  }, 20_000);

  it('takes a removed camera off the wall at once (DELETE /streams), and back when it sends again', async () => {
    const label = uniqueLabel();
    const img = await solidJpeg(160, 90, GREY);
    await frame(label, 'stays', img);
    await frame(label, 'goes', img);
    const { page: p } = await page();
    await logIn(p, svc.url, 'root', testPassword('root'), `#/site/${encodeURIComponent(label)}`);
    await p.waitForSelector('.tile[data-camera="goes"]');
    const token = await svc.token('root');
    const r = await fetch(`${svc.url}/streams/${encodeURIComponent(label)}/goes`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(204);
    await p.waitForSelector('.tile[data-camera="goes"]', { state: 'detached', timeout: 3000 });
    expect(await p.$('.tile[data-camera="stays"]')).not.toBeNull();
    await frame(label, 'goes', img);
    await p.waitForSelector('.tile[data-camera="goes"]', { timeout: 3000 });
  }, 20_000);

  it('says so when a frame cannot be decoded, and shows the next good one', async () => {
    const label = uniqueLabel();
    const broken = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(500, 7)]); // a JPEG signature, then junk
    await frame(label, 'cam', broken);
    const { page: p } = await page();
    await logIn(p, svc.url, 'root', testPassword('root'), `#/site/${encodeURIComponent(label)}`);
    await p.waitForFunction(() => window.__framestream!.stats.decodeErrors >= 1);
    expect(await p.textContent('.tile[data-camera="cam"] .badge')).toBe('This frame could not be shown.');
    await frame(label, 'cam', await solidJpeg(160, 90, GREY));
    await p.waitForFunction(() => window.__framestream!.stats.drawn >= 1);
    await p.waitForFunction(() => document.querySelector('.tile[data-camera="cam"] .badge')?.textContent === 'Live');
  });

  it('opens a camera large and goes back with Esc and with the back button; the camera has its own URL', async () => {
    const label = uniqueLabel();
    const img = await solidJpeg(320, 180, GREY);
    await frame(label, 'north', img, { detection_items_json: '[[10, 10, 100, 100, 0.9, 3]]', width: '320', height: '180' });
    await frame(label, 'south', img);
    const { page: p } = await page();
    const wallHash = `#/site/${encodeURIComponent(label)}`;
    await logIn(p, svc.url, 'root', testPassword('root'), wallHash);
    await p.waitForSelector('.tile[data-camera="north"][data-state="alarm"]');

    await p.click('.tile[data-camera="north"]');
    await p.waitForSelector('.camera-view .tile-large[data-state="alarm"]');
    expect(new URL(p.url()).hash).toBe(`${wallHash}/camera/north`);
    const big = await canvasSize(p, '.camera-view canvas');
    const small = await canvasSize(p, '.tile[data-camera="north"] canvas');
    expect(big.width).toBeGreaterThan(small.width * 2);
    // A newer frame reaches the large view (pull mode).
    const before = await p.evaluate(() => window.__framestream!.stats.drawn);
    await frame(label, 'north', img);
    await p.waitForFunction((n) => window.__framestream!.stats.drawn > n, before);
    await p.waitForSelector('.camera-view .tile-large[data-state="live"]');

    await p.keyboard.press('Escape');
    await p.waitForSelector('.camera-view', { state: 'detached' });
    expect(new URL(p.url()).hash).toBe(wallHash);

    await p.click('.tile[data-camera="south"]');
    await p.waitForSelector('.camera-view');
    await p.goBack();
    await p.waitForSelector('.camera-view', { state: 'detached' });
    expect(new URL(p.url()).hash).toBe(wallHash);
    await p.goForward();
    await p.waitForSelector('.camera-view h2');
    expect(await p.textContent('.camera-view h2')).toBe('south');

    // A bookmarked camera opens straight away; Esc then shows its wall.
    const { page: q } = await page();
    await logIn(q, svc.url, 'root', testPassword('root'), `${wallHash}/camera/north`);
    await q.waitForSelector('.camera-view .tile-large[data-state]:not([data-state="waiting"])');
    await q.keyboard.press('Escape');
    await q.waitForSelector('.camera-view', { state: 'detached' });
    expect(new URL(q.url()).hash).toBe(wallHash);
    await q.waitForSelector('.tile[data-camera="south"]');
  });

  it('lets an admin create a user linked to one site, who then sees only that site; logging out ends the session', async () => {
    const siteA = uniqueLabel('alpha');
    const siteB = uniqueLabel('beta');
    const img = await solidJpeg(160, 90, GREY);
    await frame(siteA, 'cam', img);
    await frame(siteB, 'cam', img);
    const { page: p } = await page();
    await logIn(p, svc.url, 'root', testPassword('root'), '#/admin/sites');
    // Sites created on the admin page; a duplicate is refused beside the field.
    for (const name of [siteA, siteB, siteA]) {
      await p.fill('form.create-site input[name=name]', name);
      await p.click('form.create-site button[type=submit]');
      if (name === siteA && (await p.$(`.site-row[data-site="${siteA}"]`))) break;
      await p.waitForSelector(`.site-row[data-site="${name}"]`);
    }
    await p.fill('form.create-site input[name=name]', siteA);
    await p.click('form.create-site button[type=submit]');
    await p.waitForSelector('form.create-site [data-error-for="name"]:not([hidden])');
    expect(await p.textContent('form.create-site [data-error-for="name"]')).toBe('This name is already taken.');

    await p.click('.topbar nav a[href="#/admin/users"]');
    await p.waitForSelector('form.create-user');
    expect(await p.textContent('.admin-view .rule')).toContain('at least one active admin');
    expect(await p.textContent('.user-row[data-user="root"] .row-notes')).toContain('The only active admin');
    expect(await p.isDisabled('.user-row[data-user="root"] button.danger')).toBe(true);

    const name = `dora${process.pid}`;
    await p.fill('form.create-user input[name=username]', name);
    await p.fill('form.create-user input[name=password]', 'short');
    await p.selectOption('form.create-user select[name=role]', 'user');
    await p.check(`form.create-user input[name=sites][value="${siteA}"]`);
    await p.click('form.create-user button[type=submit]');
    await p.waitForSelector('form.create-user [data-error-for="password"]:not([hidden])');
    expect(await p.textContent('form.create-user [data-error-for="password"]')).toBe('At least 8 characters.');
    await p.fill('form.create-user input[name=password]', 'dora-password-1');
    await p.click('form.create-user button[type=submit]');
    await p.waitForSelector(`.user-row[data-user="${name}"]`);
    expect(await p.textContent(`.user-row[data-user="${name}"] .user-sites`)).toBe(siteA);
    // The same name again: 409 beside the username.
    await p.fill('form.create-user input[name=username]', name);
    await p.fill('form.create-user input[name=password]', 'dora-password-1');
    await p.click('form.create-user button[type=submit]');
    await p.waitForSelector('form.create-user [data-error-for="username"]:not([hidden])');
    expect(await p.textContent('form.create-user [data-error-for="username"]')).toBe('This name is already taken.');

    // The admin sees both sites live.
    await p.click('.topbar nav a[href="#/"]');
    await p.waitForSelector(`.site-list li[data-site="${siteB}"][data-state="live"]`);

    const { page: q } = await page();
    await logIn(q, svc.url, name, 'dora-password-1');
    await q.waitForSelector('.site-list li');
    expect(await q.$$eval('.site-list li', (ls) => ls.map((l) => (l as HTMLElement).dataset.site))).toEqual([siteA]);
    expect(await q.$('.topbar nav a[href="#/admin/users"]')).toBeNull();
    await q.click(`.site-list li[data-site="${siteA}"] a`);
    await q.waitForSelector('.tile[data-camera="cam"]');

    const token = await q.evaluate(() => JSON.parse(localStorage.getItem('framestream.session')!).access_token as string);
    await q.click('.topbar button.logout');
    await q.waitForSelector('form.login');
    expect(await q.textContent('.login .notice')).toBe('You have logged out.');
    expect(await q.evaluate(() => localStorage.getItem('framestream.session'))).toBeNull();
    const me = await fetch(`${svc.url}/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(401);
    await q.reload();
    await q.waitForSelector('form.login');
  });

  it('lets an admin edit a user (role, sites, activation, password), delete them, and rename and delete sites', async () => {
    const siteA = uniqueLabel('delta');
    const siteB = uniqueLabel('epsilon');
    await svc.token('gail', 'user', [siteA]);
    await svc.token('hank', 'user', []);
    const { page: p } = await page();
    await logIn(p, svc.url, 'root', testPassword('root'), '#/admin/sites');
    await p.fill('form.create-site input[name=name]', siteB);
    await p.click('form.create-site button[type=submit]');
    await p.waitForSelector(`.site-row[data-site="${siteB}"]`);

    await p.goto(`${svc.url}/#/admin/users`);
    const row = '.user-row[data-user="gail"]';
    await p.waitForSelector(row);
    await p.click(`${row} button:has-text("Edit")`);
    await p.selectOption(`${row} select[name=role]`, 'guest');
    await p.check(`${row} input[name=sites][value="${siteB}"]`);
    await p.uncheck(`${row} input[name=is_active]`);
    await p.fill(`${row} input[name=password]`, 'gail-new-password');
    await p.click(`${row} button[type=submit]`);
    await p.waitForFunction((r) => document.querySelector(`${r} .user-sites`)?.textContent?.includes(',') === true, row);
    expect(await p.textContent(`${row} .user-sites`)).toBe([siteA, siteB].join(', '));
    expect(await p.textContent(`${row} .user-summary`)).toContain('Guest');
    expect(await p.textContent(`${row} .user-summary`)).toContain('Deactivated');
    const gail = (await svc.accounts.users.listUsers()).find((u) => u.username === 'gail')!;
    expect(gail).toMatchObject({ role: 'guest', is_active: false });
    const relogin = await fetch(`${svc.url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'gail', password: 'gail-new-password' }) });
    expect((await relogin.json()).code).toBe('ACCOUNT_DISABLED'); // the new password, and deactivated

    // A bad password is refused beside its field.
    await p.click(`${row} button:has-text("Edit")`);
    await p.fill(`${row} input[name=password]`, 'short');
    await p.click(`${row} button[type=submit]`);
    await p.waitForSelector(`${row} [data-error-for="password"]:not([hidden])`);
    expect(await p.textContent(`${row} [data-error-for="password"]`)).toBe('At least 8 characters.');

    await p.click('.user-row[data-user="hank"] button:has-text("Delete")');
    await p.click('.user-row[data-user="hank"] button:has-text("Yes, delete")');
    await p.waitForSelector('.user-row[data-user="hank"]', { state: 'detached' });
    expect((await svc.accounts.users.listUsers()).some((u) => u.username === 'hank')).toBe(false);

    await p.goto(`${svc.url}/#/admin/sites`);
    const srow = `.site-row[data-site="${siteB}"]`;
    await p.waitForSelector(srow);
    await p.click(`${srow} button:has-text("Rename")`);
    await p.fill(`${srow} input[name=name]`, siteA); // taken
    await p.click(`${srow} button[type=submit]`);
    await p.waitForSelector(`${srow} [data-error-for="name"]:not([hidden])`);
    expect(await p.textContent(`${srow} [data-error-for="name"]`)).toBe('This name is already taken.');
    await p.fill(`${srow} input[name=name]`, `${siteB}-renamed`);
    await p.click(`${srow} button[type=submit]`);
    const renamed = `.site-row[data-site="${siteB}-renamed"]`;
    await p.waitForSelector(renamed);
    await p.click(`${renamed} button:has-text("Delete")`);
    await p.click(`${renamed} button:has-text("Yes, delete")`);
    await p.waitForSelector(renamed, { state: 'detached' });
    expect((await svc.accounts.users.listSites()).map((x) => x.name)).not.toContain(`${siteB}-renamed`);
  });

  it('returns to the login page with the reason when the service closes the wall with 1008', async () => {
    const site = uniqueLabel('gamma');
    await frame(site, 'cam', await solidJpeg(160, 90, GREY));
    await svc.token('erin', 'user', [site]);
    const { page: p } = await page();
    await logIn(p, svc.url, 'erin', testPassword('erin'), `#/site/${encodeURIComponent(site)}`);
    await p.waitForSelector('.tile[data-camera="cam"]');
    const id = (await svc.accounts.users.listUsers()).find((u) => u.username === 'erin')!.id;
    const r = await fetch(`${svc.url}/users/${id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sites: [] }),
    });
    expect(r.status).toBe(200);
    await p.waitForSelector('form.login .notice', { timeout: 8000 });
    expect(await p.textContent('form.login .notice')).toBe(`You may no longer view site “${site}”.`);
  });

  it('decodes nothing while the tab is hidden, and only the newest frame of each camera once it is shown', async () => {
    const label = uniqueLabel();
    const img = await solidJpeg(320, 180, GREY);
    await frame(label, 'dock', img);
    const { page: p } = await page();
    // Every frame, as sent (a rate cap would coalesce the burst below before the page sees it).
    await p.addInitScript(() => localStorage.setItem('framestream.wall.quality', 'full'));
    // The browser's hidden-tab signal (headless Chromium keeps every tab visible): what the page does with it is real.
    await p.addInitScript(() => {
      let hidden = false;
      Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
      Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
      (window as unknown as { setHidden(h: boolean): void }).setHidden = (h: boolean) => {
        hidden = h;
        document.dispatchEvent(new Event('visibilitychange'));
      };
    });
    await logIn(p, svc.url, 'root', testPassword('root'), `#/site/${encodeURIComponent(label)}`);
    await p.waitForSelector('.tile[data-camera="dock"][data-state="live"]');
    await p.waitForFunction(() => window.__framestream!.stats.drawn >= 1);
    const stats = () => p.evaluate(() => ({ ...window.__framestream!.stats }));
    await p.evaluate(() => (window as unknown as { setHidden(h: boolean): void }).setHidden(true));
    const before = await stats();
    for (let i = 0; i < 5; i++) await frame(label, 'dock', img);
    await p.waitForFunction((n) => window.__framestream!.stats.received >= n + 5, before.received);
    await new Promise((r) => setTimeout(r, 300));
    const hidden = await stats();
    expect(hidden.decoded).toBe(before.decoded);
    expect(hidden.skipped - before.skipped).toBe(4); // only the newest is kept
    await p.evaluate(() => (window as unknown as { setHidden(h: boolean): void }).setHidden(false));
    await p.waitForFunction((n) => window.__framestream!.stats.drawn > n, hidden.drawn);
    await new Promise((r) => setTimeout(r, 300));
    const shown = await stats();
    expect(shown.decoded - hidden.decoded).toBe(1);
    expect(shown.bitmapsLive).toBe(1); // the one on screen; every replaced one was released
  });

  it('reflows the wall on a 390 px wide phone screen without horizontal scrolling', async () => {
    const label = uniqueLabel('a-site-with-a-rather-long-name-for-a-phone');
    const img = await solidJpeg(640, 360, GREY);
    for (const cam of ['entrance-camera-with-a-long-name', 'crane', 'yard', 'gate']) {
      await frame(label, cam, img, { warnings_json: '{"warning_people_in_utility_pole_controlled_area": {"count": 3}}' });
    }
    const { page: p } = await page({ width: 390, height: 844 });
    await logIn(p, svc.url, 'root', testPassword('root'), `#/site/${encodeURIComponent(label)}`);
    await p.waitForFunction(() => document.querySelectorAll('.tile[data-alarm="true"]').length === 4);
    const layout = await p.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
      tiles: [...document.querySelectorAll('.tile')].map((t) => t.getBoundingClientRect()).map((r) => ({ left: r.left, right: r.right })),
    }));
    expect(layout.scroll).toBeLessThanOrEqual(layout.client);
    expect(layout.client).toBeLessThanOrEqual(390);
    for (const t of layout.tiles) {
      expect(t.left).toBeGreaterThanOrEqual(0);
      expect(t.right).toBeLessThanOrEqual(390);
    }
    expect(new Set(layout.tiles.map((t) => t.left)).size).toBe(1); // one column, using the width
    for (const t of layout.tiles) expect(t.right - t.left).toBeGreaterThan(340);
    // Tiles below the fold are not decoded until scrolled to.
    const stats = await p.evaluate(() => ({ ...window.__framestream!.stats }));
    expect(stats.decoded).toBeLessThan(4);
    await p.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await p.waitForFunction(() => window.__framestream!.stats.decoded >= 4);
    for (const hash of ['#/', '#/admin/users']) {
      await p.goto(`${svc.url}/${hash}`);
      await p.waitForSelector(hash === '#/' ? '.site-list li' : '.user-row');
      expect(await p.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
    }
  });
});
