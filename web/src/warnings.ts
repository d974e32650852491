// Warnings as words (DESIGN.md §2). Two shapes arrive: an object from warning code to details
// ({"warning_no_hardhat":{"count":2}}), and older producers' list of ready-made English sentences.
// A known code becomes its catalogue label and sentence; an unknown one a readable name made from
// the code; a sentence we recognise is translated, any other shown as sent. Never a raw code.

/** Looks a catalogue key up; undefined when the catalogue lacks it. */
export type Lookup = (key: string, vars?: Record<string, string | number>) => string | undefined;

export interface WarningText {
  /** The warning code, when the producer sent one (or a sentence we recognised). */
  code: string | null;
  count: number | null;
  /** Short overlay label, e.g. "No hardhat". */
  label: string;
  /** Full sentence, e.g. "2 people are not wearing a hardhat". */
  sentence: string;
}

export const KNOWN_CODES = [
  'warning_no_hardhat',
  'warning_no_mask',
  'warning_no_safety_vest',
  'warning_close_to_machinery',
  'warning_close_to_vehicle',
  'warning_people_in_controlled_area',
  'warning_people_in_utility_pole_controlled_area',
  'detect_machinery_close_to_pole',
] as const;

const MAX_WARNINGS = 50;

// English sentences older producers send, most specific first.
const SENTENCES: Array<[RegExp, string]> = [
  [/machin\w*.*(close|near).*utility pole/i, 'detect_machinery_close_to_pole'],
  [/utility pole/i, 'warning_people_in_utility_pole_controlled_area'],
  [/(hard ?hat|helmet)/i, 'warning_no_hardhat'],
  [/vest/i, 'warning_no_safety_vest'],
  [/mask/i, 'warning_no_mask'],
  [/(close|near).*vehicle/i, 'warning_close_to_vehicle'],
  [/(close|near).*machin/i, 'warning_close_to_machinery'],
  [/(controlled|restricted) area/i, 'warning_people_in_controlled_area'],
];

/** "warning_crane_overload" → "Crane overload": the fallback name of a code no catalogue knows. */
export function humanizeCode(code: string): string {
  const words = code.replace(/^(warning|detect)_/i, '').replace(/[_\-.]+/g, ' ').trim();
  if (!words) return code;
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function countOf(details: unknown): number | null {
  if (typeof details === 'number' && Number.isFinite(details)) return details;
  if (details && typeof details === 'object' && 'count' in details) {
    const c = (details as { count: unknown }).count;
    if (typeof c === 'number' && Number.isFinite(c)) return c;
    if (typeof c === 'string' && /^\d+$/.test(c)) return Number(c);
  }
  return null;
}

function forCode(code: string, count: number | null, t: Lookup): WarningText {
  const known = t(`warning.${code}.label`) !== undefined;
  if (known) {
    const label = t(`warning.${code}.label`)!;
    const sentence =
      count === null ? label : (count === 1 ? t(`warning.${code}.sentence_one`, { count }) : undefined) ?? t(`warning.${code}.sentence`, { count }) ?? label;
    return { code, count, label, sentence };
  }
  const name = humanizeCode(code);
  const label = t('warning.unknown.label', { name }) ?? name;
  const sentence = count === null ? label : t('warning.unknown.sentence', { name, count }) ?? `${name} (${count})`;
  return { code, count, label, sentence };
}

function forSentence(text: string, t: Lookup): WarningText {
  for (const [re, code] of SENTENCES) {
    if (!re.test(text)) continue;
    const n = /\b(\d+)\b/.exec(text);
    return forCode(code, n ? Number(n[1]) : null, t);
  }
  return { code: null, count: null, label: text, sentence: text };
}

/**
 * A recorded safety event's warning as words (GET /events): its code at the peak count, or the
 * sentence an older producer sent (translated when recognised, as the tiles do, else as sent).
 */
export function eventWarning(code: string, kind: 'code' | 'sentence', count: number, t: Lookup): WarningText {
  return kind === 'sentence' ? forSentence(code, t) : forCode(code, count, t);
}

/** The warnings of one frame as words, in the catalogue's language; [] for none or unreadable. */
export function formatWarnings(raw: string | undefined | null, t: Lookup): WarningText[] {
  if (!raw) return [];
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return [];
  }
  const out: WarningText[] = [];
  if (Array.isArray(v)) {
    for (const s of v.slice(0, MAX_WARNINGS)) {
      if (typeof s === 'string' && s.trim()) out.push(forSentence(s.trim(), t));
      else if (s && typeof s === 'object' && typeof (s as { code?: unknown }).code === 'string') {
        out.push(forCode((s as { code: string }).code, countOf(s), t));
      }
    }
  } else if (v && typeof v === 'object') {
    for (const [code, details] of Object.entries(v).slice(0, MAX_WARNINGS)) {
      const count = countOf(details);
      if (count === 0) continue; // a code with a zero count is no warning
      out.push(forCode(code, count, t));
    }
  } else if (typeof v === 'string' && v.trim()) {
    out.push(forSentence(v.trim(), t));
  }
  return out;
}
