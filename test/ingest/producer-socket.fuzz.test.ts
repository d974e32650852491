// WS /ws/frames, property-based, against the real server on both stores: whatever a producer sends,
// each message gets exactly one reply, in order; the socket stays open; a frame is stored exactly as
// sent when the reply is ok, and nothing is stored when it is an error.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, STORES, type TestService } from '../helpers/service.js';
import { connect, jpeg, type Client } from '../helpers/frames.js';

const DELIM = Buffer.from('--IMG--');

interface Sent {
  data: Buffer | string;
  /** Where a stored frame would be, when the header named a label and key as strings. */
  at?: { label: string; key: string; header: Record<string, unknown>; image: Buffer };
}

describe.each(STORES)('producer socket, property-based (%s store)', (store) => {
  let svc: TestService;
  let c: Client;
  const site = `fuzz-${process.pid}-${Math.random().toString(36).slice(2, 7)}`;
  let n = 0;
  beforeAll(async () => {
    svc = await startService({ store, env: { MAX_FRAME_BYTES: '4096' } });
    c = await connect(svc.url, '/ws/frames', await svc.token('admin'), 'header');
  });
  afterAll(async () => {
    c?.close();
    await svc?.stop();
  });

  /** Mostly right, sometimes wrong: so that both replies are exercised. */
  const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) => fc.oneof({ arbitrary: good, weight: 9 }, { arbitrary: bad, weight: 1 });
  const validJson = fc.oneof(fc.constantFrom('', '[]', '{}', '[[1,2],[3,4]]', '{"warning_no_hardhat":{"count":2}}', '["Warning: 安全帽"]'), fc.json({ maxDepth: 3 }));
  const field = mostly(validJson, fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 }), fc.constant(undefined)));
  const size = mostly(fc.oneof(fc.nat(5000), fc.nat(5000).map(String), fc.constant(undefined)), fc.constantFrom('', ' 12', '1.5', '-1', 'wide'));
  const image = mostly(
    fc.oneof(fc.nat(3000).map((len) => jpeg(++n, 16 + len)), fc.constant(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(20, 7)]))),
    fc.oneof(fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a)), fc.constant(Buffer.alloc(5000, 0xff))),
  );
  const frame = fc
    .record({
      label: mostly(fc.constant(site), fc.oneof(fc.constantFrom('', ' lead', 'a\u0000b', 'x'.repeat(300), undefined), fc.string({ maxLength: 8 }))),
      key: mostly(fc.oneof(fc.constant('cam'), fc.string({ minLength: 1, maxLength: 10 })), fc.constantFrom('k\u0001', 42, undefined)),
      warnings_json: field,
      cone_polygons_json: field,
      pole_polygons_json: field,
      detection_items_json: fc.oneof(field, fc.constant(undefined)),
      width: size,
      height: size,
      image,
    })
    .map(({ image: img, ...h }): Sent => {
      // A key of its own per message, so that the store answers for this message only.
      const header: Record<string, unknown> = Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined));
      if (typeof header.key === 'string') header.key = `${header.key}#${++n}`;
      const data = Buffer.concat([Buffer.from(JSON.stringify(header)), DELIM, img]);
      return typeof header.label === 'string' && typeof header.key === 'string' ? { data, at: { label: header.label, key: header.key, header, image: img } } : { data };
    });
  const junk = fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((a): Sent => ({ data: Buffer.from(a) })),
    fc.string({ maxLength: 100 }).map((t): Sent => ({ data: t })),
    fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 })).map(([a, b]): Sent => ({ data: Buffer.concat([Buffer.from(a), DELIM, Buffer.from(b)]) })),
  );

  it('answers every message once, in order, stores exactly what it accepts and nothing else, and stays open', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof({ arbitrary: frame, weight: 4 }, { arbitrary: junk, weight: 1 }), { minLength: 1, maxLength: 5 }), async (batch) => {
        const from = c.texts.length;
        for (const m of batch) c.send(m.data);
        await c.until(() => c.texts.length >= from + batch.length || c.closed !== null, 10_000, 'replies');
        expect(c.closed).toBeNull();
        const replies = c.texts.slice(from);
        expect(replies).toHaveLength(batch.length);
        for (const [i, m] of batch.entries()) {
          const r = replies[i];
          expect(r.status === 'ok' ? r : { ...r, message: typeof r.message }).toEqual(
            r.status === 'ok' ? { status: 'ok', message: 'Frame stored successfully.' } : { status: 'error', message: 'string', code: expect.any(String) },
          );
          if (!m.at) {
            expect(r.status).toBe('error');
            continue;
          }
          const stored = await svc.store.latest(m.at.label, m.at.key).catch(() => null);
          if (r.status !== 'ok') {
            expect(stored).toBeNull();
            continue;
          }
          accepted++;
          const h = m.at.header;
          expect(stored!.frame.equals(m.at.image)).toBe(true);
          expect([stored!.warnings, stored!.conePolygons, stored!.polePolygons, stored!.detectionItems]).toEqual(
            [h.warnings_json, h.cone_polygons_json, h.pole_polygons_json, h.detection_items_json ?? ''],
          );
          const dim = (v: unknown) => (v === undefined || v === '' ? '0' : String(Number(String(v).trim())));
          expect([stored!.width, stored!.height]).toEqual([dim(h.width), dim(h.height)]);
        }
      }),
      { numRuns: 40 },
    );
    expect(accepted).toBeGreaterThan(0);
  });
});
