// Wire messages of DESIGN.md §2: a UTF-8 JSON header, the 7 bytes `--IMG--`, then the image.
// Headers are written the way the old backend's Python json.dumps wrote them (", " and ": "
// separators, non-ASCII escaped as \uXXXX), so its viewers and any byte-level tooling see no change.
import type { StoredFrame, ViewerMessage } from './frame.js';
import { wsHeaderLength, writeWsHeader } from './ws-frame.js';

export const DELIMITER = Buffer.from('--IMG--');

// Characters json.dumps(ensure_ascii=True) escapes: control characters, quote, backslash, non-ASCII.
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\u007f-\uffff]/;
const SHORT: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

/** A JSON string literal exactly as Python's json.dumps writes it. */
export function pyJsonString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const c = s.charCodeAt(i);
    if (SHORT[ch] !== undefined) out += SHORT[ch];
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`; // UTF-16 units, as Python
    else out += ch;
  }
  return `${out}"`;
}

/** A flat JSON object of strings, in the given key order, formatted like json.dumps. */
export function pyJsonObject(entries: ReadonlyArray<readonly [string, string]>): string {
  return `{${entries.map(([k, v]) => `${pyJsonString(k)}: ${pyJsonString(v)}`).join(', ')}}`;
}

/** Header + delimiter + image, built in place behind its WebSocket frame header: one copy of the image. */
function withImage(header: string, image: Buffer): ViewerMessage {
  const head = Buffer.from(header, 'utf8');
  const length = head.length + DELIMITER.length + image.length;
  const at = wsHeaderLength(length);
  const framed = Buffer.allocUnsafe(at + length);
  writeWsHeader(framed, length);
  head.copy(framed, at);
  DELIMITER.copy(framed, at + head.length);
  image.copy(framed, at + head.length + DELIMITER.length);
  return { framed, payload: framed.subarray(at) };
}

/** Header + image; the first header field names the frame: `key` (push) or `id` (pull). */
function encode(f: StoredFrame, first: 'key' | 'id'): ViewerMessage {
  const header = pyJsonObject([
    [first, first === 'key' ? f.key : f.id],
    ['warnings', f.warnings],
    ['cone_polygons', f.conePolygons],
    ['pole_polygons', f.polePolygons],
    ['detection_items', f.detectionItems],
    ['width', f.width],
    ['height', f.height],
  ]);
  return withImage(header, f.frame);
}

/** The push viewer's message (WS /ws/labels/{label}), encoded once per frame and cached on it. */
export function pushMessage(f: StoredFrame): ViewerMessage {
  return (f.pushMessage ??= encode(f, 'key'));
}

/** The pull viewer's message (WS /ws/stream/{label}/{key}), encoded once per frame and cached on it. */
export function pullMessage(f: StoredFrame): ViewerMessage {
  return (f.pullMessage ??= encode(f, 'id'));
}

/**
 * Splits a producer's binary message at its first `--IMG--` into the header's bytes (UTF-8 JSON:
 * decoding, strictly, is the reader's business) and the image; null without a delimiter.
 */
export function splitMessage(data: Buffer): { header: Buffer; image: Buffer } | null {
  const i = data.indexOf(DELIMITER);
  if (i < 0) return null;
  return { header: data.subarray(0, i), image: data.subarray(i + DELIMITER.length) };
}

export const OK_REPLY = { status: 'ok', message: 'Frame stored successfully.' } as const;
