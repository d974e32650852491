// Safety events in headless Chromium against the real service: the panel beside the wall lists a
// site's events as frames with warnings arrive (snapshot, words in the chosen language), a click
// opens the camera large; the history page filters, pages with "load more", and lets a reviewer
// acknowledge or mark a false positive with a note, shown in the audit; a guest only reads.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startService, testPassword, type TestService } from '../helpers/service.js';
import { postFrame, sleep, uniqueLabel } from '../helpers/frames.js';
import { launchChromium, logIn, openPage, OpenPages, solidJpeg } from '../helpers/browser.js';
import { toLocalInput } from '../../web/src/event-list.js';

describe('web viewer: safety events', () => {
  let svc: TestService;
  let browser: Browser;
  let admin: string;
  let image: Buffer;
  const pages = new OpenPages(() => browser);

  beforeAll(async () => {
    [svc, browser, image] = await Promise.all([startService(), launchChromium(), solidJpeg(320, 180, [128, 128, 128])]);
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

  const frame = async (label: string, key: string, warnings: unknown) => {
    const r = await postFrame(svc.url, admin, { label, key, warnings_json: JSON.stringify(warnings), cone_polygons_json: '[]', pole_polygons_json: '[]', detection_items_json: '[]', width: '0', height: '0' }, image);
    expect(r.status).toBe(200);
  };

  /** Waits until the site has `n` events recorded (the recorder writes off the upload path). */
  async function recorded(label: string, n: number): Promise<Array<{ id: number; camera: string; code: string; status: string }>> {
    for (let i = 0; i < 200; i++) {
      const r = await fetch(`${svc.url}/events?site=${encodeURIComponent(label)}&limit=200`, { headers: { authorization: `Bearer ${admin}` } });
      const body = (await r.json()) as { events: Array<{ id: number; camera: string; code: string; status: string }> };
      if (body.events.length >= n) return body.events;
      await sleep(50);
    }
    throw new Error(`${label}: fewer than ${n} events recorded`);
  }

  const words = (p: Page, camera: string) => p.textContent(`.events-panel .event-item[data-camera="${camera}"] .event-words`);

  it('lists events as they arrive beside the wall, with the snapshot and translated words; a click opens the camera large', async () => {
    const label = uniqueLabel();
    await frame(label, 'crane', { warning_close_to_machinery: { count: 1 } });
    await recorded(label, 1);
    const { page: p } = await page();
    await logIn(p, svc.url, 'root', testPassword('root'), `#/site/${encodeURIComponent(label)}`);
    // The event from before the page opened: from the first page of GET /events.
    await p.waitForSelector('.events-panel[data-state="open"] .event-item[data-camera="crane"]');
    expect(await words(p, 'crane')).toBe('1 person is too close to machinery');

    // Live: a new frame with a warning, no reload.
    await frame(label, 'gate', { warning_no_hardhat: { count: 2 } });
    await p.waitForSelector('.events-panel .event-item.fresh[data-camera="gate"]');
    expect(await words(p, 'gate')).toBe('2 people are not wearing a hardhat');
    const thumb = '.events-panel .event-item[data-camera="gate"] img.event-thumb';
    await p.waitForFunction((sel) => (document.querySelector(sel) as HTMLImageElement | null)?.naturalWidth === 320, thumb);
    expect(new URL(await p.getAttribute(thumb, 'src') as string, svc.url).pathname).toMatch(/^\/events\/\d+\/snapshot\.jpg$/);
    // Newest first; an older producer's sentence shown as it was sent.
    await frame(label, 'yard', ['Crane load swinging over workers']);
    await p.waitForSelector('.events-panel .event-item[data-camera="yard"]');
    expect(await words(p, 'yard')).toBe('Crane load swinging over workers');
    expect(await p.$$eval('.events-panel .event-item', (ls) => ls.map((l) => (l as HTMLElement).dataset.camera))).toEqual(['yard', 'gate', 'crane']);

    // Another language: the words follow, from the page's own catalogue.
    await p.selectOption('select.language', 'zh-TW');
    await p.waitForFunction(() => document.querySelector('.events-panel .event-item[data-camera="gate"] .event-words')?.textContent === '有 2 人未戴安全帽');
    expect(await words(p, 'crane')).toBe('有 1 人太靠近機具');
    expect(await p.textContent('.events-panel h2')).toBe('安全事件');
    expect(await p.innerText('.events-panel')).not.toMatch(/warning_|detect_/);

    // The same warning again extends its event: one item, its words at the new peak.
    await frame(label, 'gate', { warning_no_hardhat: { count: 3 } });
    await p.waitForFunction(() => document.querySelector('.events-panel .event-item[data-camera="gate"] .event-words')?.textContent === '有 3 人未戴安全帽', undefined, { timeout: 5000 });
    expect(await p.$$('.events-panel .event-item[data-camera="gate"]')).toHaveLength(1);

    await p.click('.events-panel .event-item[data-camera="gate"]');
    await p.waitForSelector('.camera-view h2');
    expect(await p.textContent('.camera-view h2')).toBe('gate');
    expect(new URL(p.url()).hash).toBe(`#/site/${encodeURIComponent(label)}/camera/gate`);
  });

  it('history: filters by camera, warning, status and time, loads more, reviews with a note and shows the audit; a guest only reads', async () => {
    const label = uniqueLabel();
    await svc.token('rita', 'user', [label]);
    await svc.token('gus', 'guest', [label]);
    const custom = (cam: number, n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`warning_test_${cam}_${i}`, { count: 1 }]));
    await frame(label, 'c1', { warning_no_hardhat: { count: 2 }, ...custom(1, 15) });
    await frame(label, 'c2', { warning_no_mask: { count: 1 }, ...custom(2, 15) });
    await frame(label, 'c3', custom(3, 16));
    await frame(label, 'c4', custom(4, 16));
    const all = await recorded(label, 64);

    const { page: p } = await page();
    const history = `#/site/${encodeURIComponent(label)}/events`;
    await logIn(p, svc.url, 'rita', testPassword('rita'), history);
    const rows = () => p.$$eval('.history-list .event-row', (rs) => rs.map((r) => ({ id: Number((r as HTMLElement).dataset.eventId), camera: (r as HTMLElement).dataset.camera!, status: (r as HTMLElement).dataset.status! })));
    const waitRows = (n: number) => p.waitForFunction((k) => document.querySelectorAll('.history-list .event-row').length === k && document.querySelector('.history-message')?.textContent === '', n);
    await waitRows(50);
    expect(await p.isVisible('button.load-more')).toBe(true);
    await p.click('button.load-more');
    await waitRows(64);
    expect(await p.isHidden('button.load-more')).toBe(true);
    expect(new Set((await rows()).map((r) => r.id))).toEqual(new Set(all.map((e) => e.id))); // every event once

    // Camera.
    await p.fill('form.event-filters input[name=camera]', 'c2');
    await p.click('form.event-filters button[type=submit]');
    await waitRows(16);
    expect(new Set((await rows()).map((r) => r.camera))).toEqual(new Set(['c2']));
    expect(new URL(p.url()).hash).toBe(`${history}?camera=c2`);

    // Warning (its name in the page's language, never the code).
    await p.fill('form.event-filters input[name=camera]', '');
    await p.selectOption('form.event-filters select[name=code]', 'warning_no_hardhat');
    expect(await p.$eval('form.event-filters select[name=code] option:checked', (o) => o.textContent)).toBe('No hardhat');
    await p.click('form.event-filters button[type=submit]');
    await waitRows(1);
    const hardhat = '.history-list .event-row[data-code="warning_no_hardhat"]';
    expect(await p.textContent(`${hardhat} .event-words`)).toBe('2 people are not wearing a hardhat');

    // A false positive, with a note: the row, the audit and the service agree.
    await p.fill(`${hardhat} input[name=note]`, 'a cap, not a bare head');
    await p.click(`${hardhat} button.review-false_positive`);
    await p.waitForSelector(`${hardhat}[data-status="false_positive"] .event-audit li`);
    expect(await p.textContent(`${hardhat} .event-status`)).toBe('False positive');
    expect(await p.textContent(`${hardhat} .event-audit li`)).toMatch(/rita: New → False positive “a cap, not a bare head”$/);
    expect(await p.isDisabled(`${hardhat} button.review-false_positive`)).toBe(true);
    const id = all.find((e) => e.code === 'warning_no_hardhat')!.id;
    const stored = (await (await fetch(`${svc.url}/events/${id}`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { status: string; note: string; audit: Array<{ username: string; to_status: string }> };
    expect(stored).toMatchObject({ status: 'false_positive', note: 'a cap, not a bare head', audit: [{ username: 'rita', to_status: 'false_positive' }] });

    // Acknowledge another, then filter by status.
    await p.selectOption('form.event-filters select[name=code]', 'warning_no_mask');
    await p.click('form.event-filters button[type=submit]');
    await waitRows(1);
    await p.click('.history-list .event-row[data-code="warning_no_mask"] button.review-acknowledged');
    await p.waitForSelector('.history-list .event-row[data-code="warning_no_mask"][data-status="acknowledged"]');
    await p.selectOption('form.event-filters select[name=code]', '');
    await p.selectOption('form.event-filters select[name=status]', 'false_positive');
    await p.click('form.event-filters button[type=submit]');
    await waitRows(1);
    expect(await rows()).toEqual([{ id, camera: 'c1', status: 'false_positive' }]);
    await p.selectOption('form.event-filters select[name=status]', 'new');
    await p.click('form.event-filters button[type=submit]');
    await waitRows(50);
    expect((await rows()).every((r) => r.status === 'new')).toBe(true);

    // Time: nothing before an hour ago; everything since.
    await p.selectOption('form.event-filters select[name=status]', '');
    await p.fill('form.event-filters input[name=until]', toLocalInput(new Date(Date.now() - 3_600_000).toISOString()));
    await p.click('form.event-filters button[type=submit]');
    await p.waitForFunction(() => document.querySelector('.history-message')?.textContent === 'No events match these filters.');
    expect(await rows()).toEqual([]);
    await p.fill('form.event-filters input[name=until]', '');
    await p.fill('form.event-filters input[name=since]', toLocalInput(new Date(Date.now() - 3_600_000).toISOString()));
    await p.fill('form.event-filters input[name=camera]', 'c1');
    await p.click('form.event-filters button[type=submit]');
    await waitRows(16);
    expect(new URL(p.url()).hash).toMatch(/[?&]since=/);
    // Back: the previous filters again, from the address.
    await p.goBack();
    await p.waitForFunction(() => document.querySelector('.history-message')?.textContent === 'No events match these filters.');
    expect(await p.inputValue('form.event-filters input[name=until]')).not.toBe('');

    // A guest reads the same events and their audit, without a review button.
    const { page: g } = await page();
    await logIn(g, svc.url, 'gus', testPassword('gus'), `${history}?code=warning_no_hardhat`);
    await g.waitForSelector(hardhat);
    expect(await g.textContent('.history-view .hint')).toBe('You can read the events but not review them.');
    expect(await g.$$('.history-list button.review')).toHaveLength(0);
    expect(await g.$$('.history-list input[name=note]')).toHaveLength(0);
    await g.click(`${hardhat} button.show-audit`);
    await g.waitForSelector(`${hardhat} .event-audit li`);
    expect(await g.textContent(`${hardhat} .event-audit li`)).toContain('rita: New → False positive');
    // The camera link opens the camera large on its wall.
    await g.click(`${hardhat} a.event-camera`);
    await g.waitForSelector('.camera-view h2');
    expect(await g.textContent('.camera-view h2')).toBe('c1');
  });
});
