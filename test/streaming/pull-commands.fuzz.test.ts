// WS /ws/stream/{label}/{key} commands, property-based, against the real server: whatever a viewer
// sends (text or binary, JSON or not, any shape), it gets the reply DESIGN.md §2 gives, the socket
// stays open, and only the first pull brings the frame (there is no newer one).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';
import { connect, defaultMeta, jpeg, postFrame, seqOf, sleep, uniqueLabel } from '../helpers/frames.js';

type Reply = 'pong' | 'unknown' | 'invalid' | 'frame' | 'nothing';

/** The protocol's answer to one message (a later pull waits for a newer frame: nothing comes). */
function expected(data: string | Buffer, pulledBefore: boolean): Reply {
  if (typeof data !== 'string') return 'unknown';
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return 'invalid';
  }
  const cmd = (v !== null && typeof v === 'object' ? v : {}) as { action?: unknown; type?: unknown };
  if (cmd.action === 'ping' || cmd.type === 'ping') return 'pong';
  if (cmd.action === 'pull') return pulledBefore ? 'nothing' : 'frame';
  return 'unknown';
}

const TEXT: Record<string, Reply> = { '{"action":"pong"}': 'pong', '{"error":"unknown action"}': 'unknown', '{"error":"Invalid JSON format"}': 'invalid' };

describe('pull socket commands, property-based', () => {
  let svc: TestService;
  let token: string;
  const label = uniqueLabel('pullfuzz');
  beforeAll(async () => {
    svc = await startService({ env: { PULL_IDLE_TIMEOUT_MS: '0' } });
    token = await svc.token('admin');
    expect((await postFrame(svc.url, token, { label, key: 'cam', ...defaultMeta }, jpeg(5))).status).toBe(200);
  });
  afterAll(async () => svc?.stop());

  const command = fc.oneof(
    fc.record({ action: fc.oneof(fc.constantFrom('ping', 'pull', 'PULL', 'push', ''), fc.string({ maxLength: 6 }), fc.integer()), type: fc.option(fc.constantFrom('ping', 'pong'), { nil: undefined }) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
    fc.json({ maxDepth: 3 }),
    fc.string({ maxLength: 40 }),
    fc.constantFrom('{"__proto__":{"action":"pull"}}', '{"action":["pull"]}', 'null', '[]', '"ping"', '{"type":"ping"}', ''),
    fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  );

  it('answers each command as the protocol says and stays open', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 8 }), async (batch) => {
        const c = await connect(svc.url, `/ws/stream/${label}/cam`, token, 'header');
        const want: Reply[] = [];
        let pulled = false;
        for (const m of batch) {
          want.push(expected(m, pulled));
          if (want.at(-1) === 'frame') pulled = true;
        }
        for (const m of batch) c.send(m);
        const texts = want.filter((w) => w !== 'frame' && w !== 'nothing').length;
        const frames = want.filter((w) => w === 'frame').length;
        await c.until(() => (c.texts.length >= texts && c.frames.length >= frames) || c.closed !== null, 5000, 'replies');
        await sleep(30); // nothing more may come
        expect(c.closed).toBeNull();
        expect(c.texts.map((t) => TEXT[JSON.stringify(t)] ?? JSON.stringify(t))).toEqual(want.filter((w) => w !== 'frame' && w !== 'nothing'));
        expect(c.frames).toHaveLength(frames);
        if (frames) expect(seqOf(c.frames[0]!.image).seq).toBe(5);
        c.close();
      }),
      { numRuns: 60 },
    );
  });
});
