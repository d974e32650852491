// npm run demo against the real service: it sets up its site and producer through the API and
// feeds four cameras whose frames carry real JPEGs, boxes, polygons and warnings.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { startService, testPassword, type TestService } from '../helpers/service.js';
import { uniqueLabel } from '../helpers/frames.js';

const run = promisify(execFile);
const DEMO = path.join(import.meta.dirname, '../../scripts/demo.mjs');

describe('npm run demo', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService();
    await svc.token('boss', 'admin');
  });
  afterAll(async () => svc?.stop());

  it('creates its site and a model_manager, then uploads four cameras of generated frames as that producer', async () => {
    const site = uniqueLabel('demo');
    const producer = `cam${process.pid}`;
    const out = await run(process.execPath, [DEMO, '--url', svc.url, '--admin', 'boss', '--site', site, '--producer', producer, '--fps', '4', '--seconds', '5'], {
      env: { ...process.env, ADMIN_PASSWORD: testPassword('boss') },
      timeout: 30_000,
    });
    expect(out.stdout).toContain(`/#/site/${site}`);
    expect(await svc.store.keys(site)).toEqual(['camera-1', 'camera-2', 'camera-3', 'camera-4']);
    const users = await svc.accounts.users.listUsers();
    expect(users.find((u) => u.username === producer)).toMatchObject({ role: 'model_manager', sites: [site], is_active: true });

    const f = (await svc.store.latest(site, 'camera-1'))!;
    const img = await sharp(f.frame).metadata();
    expect(img).toMatchObject({ format: 'jpeg', width: 640, height: 360 });
    expect([f.width, f.height]).toEqual(['640', '360']);
    expect(JSON.parse(f.detectionItems).length).toBeGreaterThan(3);
    expect(JSON.parse(f.conePolygons)[0].length).toBeGreaterThanOrEqual(3);
    expect(typeof JSON.parse(f.warnings)).toBe('object');
    // The fourth camera speaks like an older producer: a list of sentences.
    expect(Array.isArray(JSON.parse((await svc.store.latest(site, 'camera-4'))!.warnings))).toBe(true);
  }, 40_000);

  it('says what to set when it has no admin password', async () => {
    const err = await run(process.execPath, [DEMO, '--url', svc.url], { env: { ...process.env, ADMIN_PASSWORD: '' } }).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toContain('ADMIN_PASSWORD');
  });
});
