// Viewer sockets get TCP_NOTSENT_LOWAT (VIEWER_TCP_NOTSENT_LOWAT), so the kernel queues little for
// a viewer that does not keep up: what it cannot take yet stays in the server's latest-wins queue,
// where stale frames are skipped, instead of megabytes of old frames in the kernel's send buffer.
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { connect, defaultMeta, jpeg, postFrame, seqOf, sleep, uniqueLabel } from '../helpers/frames.js';
import { kernelUnsentLimit, tcpTuningAvailable } from '../../src/streaming/tcp-tuning.js';

const LIMIT = 256 * 1024;
const FRAME = 64 * 1024;

/** The server side of every open WebSocket. */
function serverSockets(svc: TestService): Socket[] {
  return [...svc.app.websocketServer.clients].map((c) => (c as unknown as { _socket: Socket })._socket);
}

/** Bytes a viewer that stopped reading is still sent once it reads again: what was queued for it. */
async function backlogOfStoppedViewer(svc: TestService, token: string): Promise<number> {
  const label = uniqueLabel();
  const post = (seq: number) =>
    Promise.all([0, 1].map((cam) => postFrame(svc.url, token, { label, key: `cam-${cam}`, ...defaultMeta }, jpeg(seq, FRAME, cam))));
  await post(0);
  const viewer = await connect(svc.url, `/ws/labels/${label}`, token);
  await viewer.until(() => viewer.frames.length === 2);
  viewer.ws.pause();
  await sleep(100); // the pause reaches the socket: from here the kernel's buffers fill
  for (let s = 1; s <= 150; s++) await post(s); // about 19 MB
  await sleep(300);
  const before = viewer.frames.length;
  viewer.ws.resume();
  await viewer.until(() => viewer.frames.some((f) => seqOf(f.image).seq === 150 && seqOf(f.image).cam === 1), 10_000, 'the newest frame');
  const after = viewer.frames.slice(before);
  viewer.close();
  return after.reduce((n, f) => n + f.raw.length, 0);
}

// Linux has the option; the addon is built by `npm ci`, so here a missing one is a failure, not a skip.
describe.skipIf(process.platform !== 'linux')('TCP tuning of viewer sockets', () => {
  let svc: TestService;
  let admin: string;
  beforeAll(async () => {
    svc = await startService({ env: { VIEWER_MAX_BUFFER_BYTES: String(LIMIT), VIEWER_STALL_MS: '30000' } });
    admin = await svc.token('admin');
  });
  afterAll(async () => svc?.stop());

  it('has the native addon (build/Release/tcp_tuning.node, built by npm ci)', () => {
    expect(tcpTuningAvailable, 'native addon missing: run npm ci (or npm run install)').toBe(true);
  });

  it('sets TCP_NOTSENT_LOWAT on push and pull viewer sockets (128 KiB by default)', async () => {
    const label = uniqueLabel();
    await postFrame(svc.url, admin, { label, key: 'cam', ...defaultMeta }, jpeg(0));
    const push = await connect(svc.url, `/ws/labels/${label}`, admin);
    const pull = await connect(svc.url, `/ws/stream/${label}/cam`, admin);
    await push.until(() => push.frames.length === 1);
    const limits = serverSockets(svc).map(kernelUnsentLimit);
    expect(limits).toEqual([128 * 1024, 128 * 1024]);
    push.close();
    pull.close();
  });

  it('leaves the kernel default when VIEWER_TCP_NOTSENT_LOWAT=0', async () => {
    const plain = await startService({ env: { VIEWER_TCP_NOTSENT_LOWAT: '0' } });
    try {
      const token = await plain.token('admin');
      const label = uniqueLabel();
      await postFrame(plain.url, token, { label, key: 'cam', ...defaultMeta }, jpeg(0));
      const push = await connect(plain.url, `/ws/labels/${label}`, token);
      await push.until(() => push.frames.length === 1);
      expect(serverSockets(plain).map(kernelUnsentLimit)).toEqual([0]); // 0: the socket follows the sysctl
      push.close();
    } finally {
      await plain.stop();
    }
  });

  it('keeps what is queued for a stopped viewer near the limit, so it resumes with recent frames', async () => {
    const bytes = await backlogOfStoppedViewer(svc, admin);
    // Queued: up to LIMIT unsent in the server, one held frame per camera, the kernel's 128 KiB of
    // unsent bytes and the viewer's own receive buffer. Without the option the kernel alone takes
    // megabytes (measured: 4.3 MB here, against 0.5 MB with it).
    expect(bytes).toBeLessThan(LIMIT + 2 * FRAME + 128 * 1024 + 640 * 1024);
  });
});
