// What every example viewer must do against the real service, whatever its language: log in, watch
// a site over WS /ws/labels/{label}?token=, and print each frame it receives (camera, size, bytes,
// boxes, warnings in words, from either shape of warnings), and say so when it may not watch.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { connect, defaultMeta, jpeg, postFrame, uniqueLabel } from '../helpers/frames.js';
import { createAccount, runExample } from './run.js';

export interface ViewerUnderTest {
  command: () => string;
  script: string;
}

export function viewerTests(v: ViewerUnderTest): void {
  let svc: TestService;
  let admin: string;
  // Found in each test, so that a missing interpreter fails every test with what to install.
  let found: string | undefined;
  const command = () => (found ??= v.command());
  beforeAll(async () => {
    svc = await startService();
    admin = await svc.token('examples-admin');
  });
  afterAll(async () => svc?.stop());

  it('prints every frame of the site that a real viewer receives, with its warnings in words', async () => {
    const label = uniqueLabel();
    expect((await postFrame(svc.url, admin, { label, key: 'seed', ...defaultMeta }, jpeg(0, 100))).status).toBe(200);
    const account = await createAccount(svc, `viewer-${Math.random().toString(36).slice(2, 8)}`, 'user', [label]);
    const real = await connect(svc.url, `/ws/labels/${label}`, admin);
    const run = runExample(command(), [v.script, label, '--frames', '4'], { url: svc.url, ...account });
    try {
      await run.line(/^watching /);
      await run.line(/^seed: /, 5_000); // on connect: the newest frame of every camera
      const uploads = [
        { warnings_json: '{"warning_no_hardhat": {"count": 2}, "warning_close_to_vehicle": {"count": 1}}', width: '640', height: '480', detection_items_json: '[[1, 2, 3, 4, 0.9, 2], [5, 6, 7, 8, 0.8, 10]]' },
        { warnings_json: '["Warning: Someone is not wearing a hardhat!"]', width: '0', height: '0', detection_items_json: '' },
        { warnings_json: '{"warning_fire": {"count": 1}}', width: '320', height: '240', detection_items_json: '[]' },
      ];
      for (const [i, u] of uploads.entries()) {
        const res = await postFrame(svc.url, admin, { label, key: 'cam-2', cone_polygons_json: '[]', pole_polygons_json: '[]', ...u }, jpeg(i + 1, 200 + i));
        expect(res.status).toBe(200);
      }
      await run.success(10_000);
      await real.until(() => real.frames.length === 4, 5_000, 'the real viewer’s frames');
      // The example printed one line per frame, each saying what the real viewer received.
      const printed = run.lines.filter((l) => /^(seed|cam-2): /.test(l));
      expect(printed, run.output).toEqual([
        'seed: 64x48, 100 bytes, 1 boxes, warnings: 2 people are not wearing a hardhat',
        'cam-2: 640x480, 200 bytes, 2 boxes, warnings: 2 people are not wearing a hardhat; 1 people are too close to vehicles',
        'cam-2: size unknown, 201 bytes, 0 boxes, warnings: Warning: Someone is not wearing a hardhat!',
        'cam-2: 320x240, 202 bytes, 0 boxes, warnings: warning_fire (1)',
      ]);
      expect(real.frames.map((f) => `${f.header.key} ${f.image.length}`)).toEqual(['seed 100', 'cam-2 200', 'cam-2 201', 'cam-2 202']);
    } finally {
      run.stop();
      real.close();
    }
  });

  it('stops with a message when the account may not watch the site', async () => {
    const account = await createAccount(svc, `outsider-${Math.random().toString(36).slice(2, 8)}`, 'user', ['somewhere-else']);
    const run = runExample(command(), [v.script, uniqueLabel(), '--frames', '1'], { url: svc.url, ...account });
    const { code } = await run.exited;
    expect(code, run.output).not.toBe(0);
    expect(run.output).toContain('closed: 1008 Not allowed to view this site');
    expect(run.output).toContain('this account may not watch that site');
  });
}
