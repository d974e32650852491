// What every example producer must do against the real service, whatever its language: log in,
// refresh before its token expires, upload frames that a real viewer receives, and get through a
// 429 (busy), an ended session (401 / close 1008) and a frame refused for what it is.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { connect, defaultMeta, jpeg, postFrame, uniqueLabel, type Client } from '../helpers/frames.js';
import { createAccount, endSessions, EXAMPLES, holdUploadSlot, runExample, type ExampleAccount } from './run.js';

const IMAGE = fs.readFileSync(path.join(EXAMPLES, 'frame.png'));

/** The metadata the example producers send with the sample image (examples/frame.png, 160x120), decoded. */
const EXAMPLE_METADATA = {
  warnings: { warning_no_hardhat: { count: 1 } },
  cone_polygons: [[[45, 30], [20, 100], [70, 100]]],
  pole_polygons: [],
  detection_items: [[95, 40, 139, 94, 0.88, 2]],
};

export interface ProducerUnderTest {
  /** The interpreter, and the example's path below examples/. */
  command: () => string;
  script: string;
  /** Transports it offers (`--via`). */
  via: Array<'http' | 'ws'>;
}

export function producerTests(p: ProducerUnderTest): void {
  let svc: TestService;
  // Found in each test, so that a missing interpreter fails every test with what to install.
  let found: string | undefined;
  const command = () => (found ??= p.command());
  // Tokens expire within the tests: a fresh one for each use.
  const admin = () => svc.token('examples-admin');
  beforeAll(async () => {
    // Tokens live 10 s (the least allowed), so a run of a few seconds has to refresh; one upload at a time.
    svc = await startService({ env: { ACCESS_TOKEN_TTL: '10', MAX_CONCURRENT_UPLOADS: '1' } });
  });
  afterAll(async () => svc?.stop());

  /** A site with a live camera ("seed") and a real push viewer on it. */
  async function watchedSite(): Promise<{ label: string; viewer: Client; account: ExampleAccount }> {
    const label = uniqueLabel();
    expect((await postFrame(svc.url, await admin(), { label, key: 'seed', ...defaultMeta }, jpeg(0))).status).toBe(200);
    const viewer = await connect(svc.url, `/ws/labels/${label}`, await admin());
    await viewer.until(() => viewer.frames.length === 1);
    const account = await createAccount(svc, `cam-${Math.random().toString(36).slice(2, 8)}`, 'model_manager', [label]);
    return { label, viewer, account };
  }

  const framesOf = (viewer: Client, key: string) => viewer.frames.filter((f) => f.header.key === key);

  function expectExampleFrames(viewer: Client, key: string, count: number): void {
    const frames = framesOf(viewer, key);
    expect(frames.length).toBe(count);
    for (const f of frames) {
      // Each language writes its JSON text its own way (the service keeps it verbatim): compare decoded.
      const { key: k, width, height, ...json } = f.header;
      expect([k, width, height]).toEqual([key, '160', '120']);
      expect(Object.fromEntries(Object.entries(json).map(([name, text]) => [name, JSON.parse(text as string)]))).toEqual(EXAMPLE_METADATA);
      expect(Buffer.compare(f.image, IMAGE)).toBe(0);
    }
  }

  if (p.via.includes('http')) {
    it('over HTTP: uploads every frame, refreshes before expiry, waits out a 429 and logs in again after its session ended', async () => {
      const { label, viewer, account } = await watchedSite();
      const run = runExample(command(), [p.script, label, 'cam-1', '--via', 'http', '--count', '60', '--interval', '0.2'], { url: svc.url, ...account });
      try {
        await run.line(/^logged in as /);
        await viewer.until(() => framesOf(viewer, 'cam-1').length >= 2, 10_000, 'first uploads');
        // Halfway through its 10 s lifetime the token is refreshed, before any upload is refused.
        await run.line(/^refreshed the access token$/, 9_000);
        expect(run.lines.filter((l) => / 401 /.test(l))).toEqual([]);

        const release = await holdUploadSlot(svc, await admin());
        await run.line(/^upload: 429 .*retrying in 1 s$/, 5_000);
        release();

        const before = framesOf(viewer, 'cam-1').length;
        await viewer.until(() => framesOf(viewer, 'cam-1').length > before, 5_000, 'uploads after the 429');
        await endSessions(svc, await admin(), account);
        await run.line(/^upload: 401 /, 5_000);
        await run.line(/logging in again$/, 5_000);

        await run.success(30_000);
        expect(run.lines.filter((l) => /^uploaded frame \d+\/60$/.test(l)).length, run.output).toBe(60);
        await viewer.until(() => framesOf(viewer, 'cam-1').length === 60, 5_000, 'all 60 frames');
        expectExampleFrames(viewer, 'cam-1', 60);
      } finally {
        run.stop();
        viewer.close();
      }
    }, 45_000);
  }

  if (p.via.includes('ws')) {
    it('over /ws/frames: uploads every frame and reconnects with a new session when its socket is closed with 1008', async () => {
      const { label, viewer, account } = await watchedSite();
      const run = runExample(command(), [p.script, label, 'cam-2', '--via', 'ws', '--count', '12', '--interval', '0.2'], { url: svc.url, ...account });
      try {
        await run.line(/^connected to \/ws\/frames$/);
        await viewer.until(() => framesOf(viewer, 'cam-2').length >= 3, 10_000, 'first uploads');
        await endSessions(svc, await admin(), account);
        await run.line(/^closed: 1008 Token not active$/, 5_000);
        await run.line(/logging in again$/, 5_000);
        await run.success(20_000);
        expect(run.lines.filter((l) => l === 'connected to /ws/frames').length, run.output).toBe(2);
        expect(run.lines.filter((l) => /^uploaded frame \d+\/12$/.test(l)).length, run.output).toBe(12);
        await viewer.until(() => framesOf(viewer, 'cam-2').length === 12, 5_000, 'all 12 frames');
        expectExampleFrames(viewer, 'cam-2', 12);
      } finally {
        run.stop();
        viewer.close();
      }
    }, 30_000);
  }

  it('reports a frame the service refuses and goes on (a file that is not an image)', async () => {
    const { label, viewer, account } = await watchedSite();
    const notImage = path.join(fs.mkdtempSync(path.join(svc.config.dataDir, 'img-')), 'notes.txt');
    fs.writeFileSync(notImage, 'not an image');
    const via = p.via[0]!;
    const run = runExample(command(), [p.script, label, 'cam-3', '--via', via, '--count', '2', '--interval', '0', '--image', notImage], { url: svc.url, ...account });
    try {
      await run.success(15_000);
      const refusals = run.lines.filter((l) => l.includes('file is not an image (expected JPEG or PNG bytes)'));
      expect(refusals.length, run.output).toBe(2);
      expect(framesOf(viewer, 'cam-3')).toEqual([]);
    } finally {
      run.stop();
      viewer.close();
    }
  });
}
