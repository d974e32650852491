// Browser tests: Debian's Chromium (never a downloaded browser) driven by playwright-core, one
// browser per test file and a fresh context (its own storage: a new profile) per test.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { VIEWER_DIR } from '../../src/web/serve.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launches Chromium (playwright gives each launch a fresh temporary profile), or says clearly why not. */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: the browser tests drive Debian's chromium package ` +
        `(apt-get install -y chromium; .ci/run installs it when absent) and never download a browser. Set CHROMIUM_PATH for another binary.`,
    );
  }
  if (!fs.existsSync(path.join(VIEWER_DIR, 'index.html'))) {
    throw new Error(`The web viewer is not built (${VIEWER_DIR}): run npm run build (npm test does).`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_FLAGS });
}

export interface TestPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught errors and console errors of the page (a test expects none). */
  errors: string[];
}

export async function openPage(browser: Browser, opts: { width?: number; height?: number; locale?: string; deviceScaleFactor?: number } = {}): Promise<TestPage> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 },
    locale: opts.locale ?? 'en-US',
    deviceScaleFactor: opts.deviceScaleFactor ?? 1,
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // Refused sockets and failed requests of tests that stop the service are expected noise.
    if (m.type() === 'error' && !/WebSocket|Failed to load resource|ERR_CONNECTION_REFUSED/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return { context, page, errors };
}

/** The pages a test opens (each in its own context), closed after it with the errors they saw. */
export class OpenPages {
  private readonly open: TestPage[] = [];

  constructor(private readonly browser: () => Browser) {}

  async page(opts?: Parameters<typeof openPage>[1]): Promise<TestPage> {
    const p = await openPage(this.browser(), opts);
    this.open.push(p);
    return p;
  }

  /** Closes them all; returns their errors (a test expects none). */
  async closeAll(): Promise<string[]> {
    const errors: string[] = [];
    for (const p of this.open.splice(0)) {
      errors.push(...p.errors);
      await p.context.close();
    }
    return errors;
  }
}

/** Logs in through the login page and waits for the logged-in top bar. */
export async function logIn(page: Page, baseUrl: string, username: string, password: string, hash = '#/'): Promise<void> {
  await page.goto(`${baseUrl}/${hash}`);
  await page.waitForSelector('form.login');
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('form.login button[type=submit]');
  await page.waitForSelector('.topbar .who');
}

/** A real JPEG of one colour. */
export function solidJpeg(width: number, height: number, rgb: [number, number, number]): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).jpeg({ quality: 95 }).toBuffer();
}

/** The size of a tile's canvas in device pixels. */
export function canvasSize(page: Page, selector: string): Promise<{ width: number; height: number }> {
  return page.$eval(selector, (c) => ({ width: (c as HTMLCanvasElement).width, height: (c as HTMLCanvasElement).height }));
}

/** RGB of canvas pixels at the given device-pixel points. */
export function canvasPixels(page: Page, selector: string, points: Array<[number, number]>): Promise<Array<[number, number, number]>> {
  return page.$eval(
    selector,
    (c, pts) => {
      const ctx = (c as HTMLCanvasElement).getContext('2d')!;
      return pts.map(([x, y]) => {
        const d = ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data;
        return [d[0], d[1], d[2]] as [number, number, number];
      });
    },
    points,
  );
}

/** The page's frame counters (web/src/stats.ts), read inside page.evaluate. */
declare global {
  interface Window {
    __framestream?: { stats: Record<'received' | 'bytesReceived' | 'skipped' | 'decoded' | 'drawn' | 'decodeErrors' | 'bitmapsLive' | 'bitmapBytes' | 'busyMs', number> };
  }
}
