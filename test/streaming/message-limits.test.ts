// A socket message over the size limit closes the socket with 1009, every time: also for a client
// that writes its whole message before reading (the socket is not cut under it, which it would see
// as a reset: 1006), and on a push socket that is receiving frames meanwhile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { connect, defaultMeta, frameMessage, jpeg, uniqueLabel, type Client } from '../helpers/frames.js';
import { wsSendWholeThenRead } from '../helpers/raw-http.js';

const TRIES = 20;
/** Past maxPayload (MAX_FRAME_BYTES + the metadata allowance), and more than socket buffers hold. */
const OVER = 4 * 1024 * 1024;

describe('socket messages over the limit', () => {
  let svc: TestService;
  let admin: string;
  let producer: Client;
  let feeding: NodeJS.Timeout;
  const label = uniqueLabel('limits');

  beforeAll(async () => {
    svc = await startService({ env: { MAX_FRAME_BYTES: '1024', PULL_IDLE_TIMEOUT_MS: '0' } });
    admin = await svc.token('admin');
    // A camera posting 50 frames a second, so that push viewers are written to all the time.
    producer = await connect(svc.url, '/ws/frames', admin, 'header');
    let seq = 0;
    const send = () => producer.send(frameMessage({ label, key: 'cam', ...defaultMeta }, jpeg(++seq, 900)));
    send();
    await producer.until(() => producer.texts.length === 1);
    feeding = setInterval(send, 20);
  });
  afterAll(async () => {
    clearInterval(feeding);
    producer?.close();
    await svc?.stop();
  });

  const closes = async (path: string) => {
    const seen: Array<number | string | null> = [];
    for (let i = 0; i < TRIES; i++) {
      const r = await wsSendWholeThenRead(svc.url, path, admin, OVER);
      seen.push(r.closeCode ?? r.error);
    }
    return seen;
  };
  const all1009 = Array(TRIES).fill(1009);

  it(`closes a push socket that is receiving frames with 1009, ${TRIES} of ${TRIES} times`, async () => {
    expect(await closes(`/ws/labels/${label}`)).toEqual(all1009);
  });

  it(`closes a producer socket and a pull socket with 1009, ${TRIES} of ${TRIES} times each`, async () => {
    expect(await closes('/ws/frames')).toEqual(all1009);
    expect(await closes(`/ws/stream/${label}/cam`)).toEqual(all1009);
  });

  it(`closes a push socket with 1009 for a message over the command limit, ${TRIES} of ${TRIES} times`, async () => {
    const codes: number[] = [];
    for (let i = 0; i < TRIES; i++) {
      const c = await connect(svc.url, `/ws/labels/${label}`, admin);
      await c.until(() => c.frames.length >= 2, 5000, 'frames being pushed');
      c.send(Buffer.alloc(100 * 1024, 0x61));
      codes.push((await c.waitClose(5000)).code);
    }
    expect(codes).toEqual(all1009);
  });
});
