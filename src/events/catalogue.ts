// The server's English words for warning codes (DESIGN.md §2): the sentence today's detectors use
// in their notifications and the short overlay label. The event record and the webhook payloads
// carry these; viewers translate the code themselves (a catalogue per language of their own).
export interface WarningText {
  /** The sentence, with `{count}` for the number of people or machines. */
  words: string;
  /** The short overlay label. */
  title: string;
}

export const WARNING_TEXTS: Readonly<Record<string, WarningText>> = {
  warning_no_hardhat: { words: '{count} people are not wearing a hardhat', title: 'No hardhat' },
  warning_no_mask: { words: '{count} people are not wearing a mask', title: 'No mask' },
  warning_no_safety_vest: { words: '{count} people are not wearing a safety vest', title: 'No safety vest' },
  warning_close_to_machinery: { words: '{count} people are too close to machinery', title: 'Too close to machinery' },
  warning_close_to_vehicle: { words: '{count} people are too close to vehicles', title: 'Too close to vehicle' },
  warning_people_in_controlled_area: { words: '{count} people have entered the controlled area', title: 'In restricted area' },
  warning_people_in_utility_pole_controlled_area: {
    words: '{count} people have entered the utility pole restricted area',
    title: 'In pole area',
  },
  detect_machinery_close_to_pole: { words: '{count} machines are too close to the utility pole', title: 'Machinery near pole' },
};

/** "warning_no_hard_hat" -> "No hard hat": the fallback label of a code the catalogue does not know. */
function humanize(code: string): string {
  const s = code.replace(/^(warning|detect)_/, '').replace(/_+/g, ' ').trim();
  return s ? s[0]!.toUpperCase() + s.slice(1) : code;
}

/** Words and label of a warning: a known code, an unknown one (fallback), or an old-style sentence. */
export function describeWarning(code: string, kind: 'code' | 'sentence', count: number): WarningText {
  if (kind === 'sentence') return { words: code, title: code };
  const known = WARNING_TEXTS[code];
  if (known) return { words: known.words.replace('{count}', String(count)), title: known.title };
  const title = humanize(code);
  return { words: `${title} (${count})`, title };
}
