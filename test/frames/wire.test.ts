import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DELIMITER as DELIM, pyJsonObject, pyJsonString, pushMessage, pullMessage, splitMessage } from '../../src/frames/wire.js';
import { compareIds, parseStreamKey, streamKey } from '../../src/frames/keys.js';
import type { StoredFrame } from '../../src/frames/frame.js';
import { wsHeaderLength, writeWsHeader } from '../../src/frames/ws-frame.js';
import * as ws from 'ws';

// ws's own framing, the reference: what ws.send would write for the same payload.
const wsSenderFrame = (ws as unknown as { Sender: { frame(data: Buffer, o: object): Buffer[] } }).Sender.frame;

describe('wire format', () => {
  it('writes JSON strings as Python json.dumps does', () => {
    // Expected values are what CPython 3 json.dumps prints for the same strings.
    expect(pyJsonString('plain')).toBe('"plain"');
    expect(pyJsonString('工地A')).toBe('"\\u5de5\\u5730A"');
    expect(pyJsonString('😀')).toBe('"\\ud83d\\ude00"');
    expect(pyJsonString('a"b\\c\n\t\u0001\u007f')).toBe('"a\\"b\\\\c\\n\\t\\u0001\\u007f"');
    expect(pyJsonString('{"count": 2}')).toBe('"{\\"count\\": 2}"');
    expect(pyJsonObject([['key', 'cam'], ['width', '64']])).toBe('{"key": "cam", "width": "64"}');
  });

  it('encodes push and pull messages once, with the documented header fields', () => {
    const f: StoredFrame = {
      label: 'site', key: 'cam 1', id: '1700000000000-3', frame: Buffer.from([0xff, 0xd8, 0xff, 1, 2]),
      warnings: '{"warning_no_hardhat":{"count":2}}', conePolygons: '[]', polePolygons: '', detectionItems: '[[1,2,3,4,0.9,0]]', width: '640', height: '480',
    };
    const push = pushMessage(f);
    expect(pushMessage(f)).toBe(push); // cached: the same buffer for every viewer
    const p = splitMessage(push.payload)!;
    expect(p.header.toString()).toBe('{"key": "cam 1", "warnings": "{\\"warning_no_hardhat\\":{\\"count\\":2}}", "cone_polygons": "[]", "pole_polygons": "", "detection_items": "[[1,2,3,4,0.9,0]]", "width": "640", "height": "480"}');
    expect(p.image.equals(f.frame)).toBe(true);
    const pull = splitMessage(pullMessage(f).payload)!;
    expect(Object.keys(JSON.parse(pull.header.toString()))).toEqual(['id', 'warnings', 'cone_polygons', 'pole_polygons', 'detection_items', 'width', 'height']);
    expect(JSON.parse(pull.header.toString()).id).toBe('1700000000000-3');
  });
});

describe('WebSocket framing', () => {
  it.each([0, 5, 125, 126, 65535, 65536, 100_000, 2 ** 24 + 3])('frames a %i-byte payload as ws.send does', (n) => {
    const payload = Buffer.alloc(n, 0x61);
    const framed = Buffer.alloc(wsHeaderLength(n) + n);
    writeWsHeader(framed, n);
    payload.copy(framed, wsHeaderLength(n));
    const reference = Buffer.concat(wsSenderFrame(payload, { fin: true, rsv1: false, opcode: 2, mask: false, readOnly: false }));
    expect(framed.equals(reference)).toBe(true);
  });

  it('caches one framed buffer per message, the payload a view into it', () => {
    const f: StoredFrame = {
      label: 'site', key: 'cam', id: '1-0', frame: Buffer.alloc(70_000, 0xff),
      warnings: '', conePolygons: '', polePolygons: '', detectionItems: '', width: '0', height: '0',
    };
    const m = pushMessage(f);
    expect(m.framed.length).toBe(10 + m.payload.length);
    expect(m.payload.buffer).toBe(m.framed.buffer);
    expect(m.framed.subarray(10).equals(m.payload)).toBe(true);
  });
});

describe('stream keys', () => {
  it('uses the old layout: URL-safe base64 with padding', () => {
    expect(streamKey('site A', 'cam/1')).toBe('stream_frame:c2l0ZSBB|Y2FtLzE=');
    expect(streamKey('工地', '?>')).toBe('stream_frame:5bel5Zyw|Pz4=');
    expect(streamKey('a', '~~~')).toBe('stream_frame:YQ==|fn5-');
    expect(parseStreamKey('stream_frame:5bel5Zyw|Pz4=')).toEqual({ label: '工地', key: '?>' });
    expect(parseStreamKey('stream_frame:nope')).toBeNull();
    expect(parseStreamKey('other:YQ==|YQ==')).toBeNull();
  });

  it('orders entry ids numerically', () => {
    expect(compareIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareIds('10-1', '10-1')).toBe(0);
  });
});

describe('wire parser, property-based', () => {
  const noDelimiter = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)).filter((b) => b.indexOf(DELIM) < 0);
  const anyBytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));

  it('splits header + --IMG-- + image back into exactly those parts, whatever the image holds', () => {
    fc.assert(
      fc.property(noDelimiter, anyBytes, (header, image) => {
        const parts = splitMessage(Buffer.concat([header, DELIM, image]))!;
        expect(parts.header.equals(header)).toBe(true);
        expect(parts.image.equals(image)).toBe(true);
      }),
    );
  });

  it('never throws on any bytes: null without a delimiter, else parts that rebuild the message', () => {
    fc.assert(
      fc.property(fc.oneof(anyBytes, fc.tuple(anyBytes, anyBytes).map(([a, b]) => Buffer.concat([a, DELIM, b]))), (data) => {
        const parts = splitMessage(data);
        if (data.indexOf(DELIM) < 0) {
          expect(parts).toBeNull();
          return;
        }
        expect(parts!.header.indexOf(DELIM)).toBe(-1);
        expect(Buffer.concat([parts!.header, DELIM, parts!.image]).equals(data)).toBe(true);
      }),
    );
  });

  it('writes any string as ASCII JSON that reads back as the same string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: 'grapheme', maxLength: 50 }), (a, b) => {
        for (const s of [a, b]) {
          const lit = pyJsonString(s);
          expect(/^[\x20-\x7e]*$/.test(lit)).toBe(true);
          expect(JSON.parse(lit)).toBe(s);
        }
      }),
    );
  });
});
