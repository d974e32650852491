// Reads the `warnings` metadata of a frame (DESIGN.md §2) in either shape detectors send:
//   the code object  {"warning_no_hardhat":{"count":2},"warning_close_to_machinery":{"count":1}}
//   the older list   ["Warning: Someone is not wearing a hardhat!"]
// into distinct warnings. Anything else (empty text, {}, [], numbers, malformed entries) yields
// none: the metadata is the producer's, and a strange value must never fail an upload.

export type WarningKind = 'code' | 'sentence';

export interface FrameWarning {
  /** The warning code, or the sentence itself for the older list shape. */
  code: string;
  kind: WarningKind;
  /** People (or machines) concerned; 1 when the shape carries no count. */
  count: number;
}

/** Distinct warnings read from one frame, at most (a producer cannot flood the log). */
export const MAX_WARNINGS_PER_FRAME = 16;
/** Codes and sentences longer than this are cut (they are stored and indexed). */
export const MAX_CODE_LENGTH = 200;
const MAX_COUNT = 1_000_000;

/** Cheap test before parsing: the empty shapes most frames carry. */
export function mayHaveWarnings(raw: string): boolean {
  const t = raw.length <= 4 ? raw.trim() : raw;
  return t !== '' && t !== '[]' && t !== '{}' && t !== 'null';
}

function countOf(details: unknown): number | null {
  if (details === false) return null;
  const raw = typeof details === 'number' ? details : (details as { count?: unknown } | null)?.count;
  if (typeof raw !== 'number' || !Number.isFinite(raw)) return 1; // no usable count: the warning is there
  if (raw <= 0) return null; // a count of zero says it is not
  return Math.min(MAX_COUNT, Math.max(1, Math.round(raw)));
}

const clip = (s: string) => (s.length > MAX_CODE_LENGTH ? s.slice(0, MAX_CODE_LENGTH) : s);

export function parseWarnings(raw: string): FrameWarning[] {
  if (!mayHaveWarnings(raw)) return [];
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return [];
  }
  const out = new Map<string, FrameWarning>();
  if (Array.isArray(v)) {
    for (const item of v) {
      if (typeof item !== 'string') continue;
      const code = clip(item.trim());
      if (!code) continue;
      const seen = out.get(code);
      if (seen) seen.count = Math.min(MAX_COUNT, seen.count + 1);
      else if (out.size < MAX_WARNINGS_PER_FRAME) out.set(code, { code, kind: 'sentence', count: 1 });
    }
  } else if (typeof v === 'string') {
    const code = clip(v.trim());
    if (code) out.set(code, { code, kind: 'sentence', count: 1 });
  } else if (v !== null && typeof v === 'object') {
    for (const [key, details] of Object.entries(v)) {
      if (out.size >= MAX_WARNINGS_PER_FRAME) break;
      const code = clip(key.trim());
      const count = countOf(details);
      if (!code || count === null) continue;
      out.set(code, { code, kind: 'code', count });
    }
  }
  return [...out.values()];
}
