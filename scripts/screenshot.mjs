#!/usr/bin/env node
// Makes the README's screenshots: starts the built service and the demo site, opens the live wall
// in headless Chromium and saves docs/viewer-wall.png (desktop) and docs/viewer-phone.png (390 px).
//   npm run build && node scripts/screenshot.mjs
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { cleanupAll, freePort, installExitHandlers, onCleanup, sleep, startChild, waitHttp } from '../bench/lib/procs.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
installExitHandlers();

async function main() {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shots-'));
  onCleanup(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const password = crypto.randomBytes(12).toString('base64url');
  const env = { ...process.env, PORT: String(port), DATA_DIR: dataDir, ADMIN_PASSWORD: password, LOG_LEVEL: 'warn', JWT_SECRET: crypto.randomBytes(24).toString('hex') };
  const svc = startChild('service', process.execPath, [path.join(REPO, 'dist/src/main.js')], { env });
  await waitHttp(`${url}/healthz`, { child: svc });
  startChild('demo', process.execPath, [path.join(REPO, 'scripts/demo.mjs'), '--url', url, '--seconds', '60'], { env, stdout: 'ignore' });
  await sleep(6000);

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  onCleanup(() => browser.close());
  fs.mkdirSync(path.join(REPO, 'docs'), { recursive: true });
  for (const [name, viewport] of [['viewer-wall.png', { width: 1280, height: 720 }], ['viewer-phone.png', { width: 390, height: 844 }]]) {
    const page = await browser.newPage({ viewport });
    await page.goto(`${url}/#/site/demo`);
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', password);
    await page.click('form.login button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('.tile[data-state="live"], .tile[data-state="alarm"]').length >= 4, undefined, { timeout: 20_000 });
    // A moment in which at least one camera is in alarm, for the picture.
    await page.waitForFunction(() => document.querySelector('.tile[data-alarm="true"]') !== null, undefined, { timeout: 20_000 });
    await sleep(1500); // the wall's feed choice settles once its cameras are known
    await page.screenshot({ path: path.join(REPO, 'docs', name) });
    console.log(`docs/${name}`);
    await page.close();
  }
}

main()
  .catch((err) => {
    console.error(err.stack ?? err);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll().then(() => process.exit()));
