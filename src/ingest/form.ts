// The upload form of POST /frames: which multipart parts make an upload. Each known field is sent
// once, as text (strict UTF-8) or, for `file`, as a file part; a second value of a field is refused
// rather than one of them picked, so that what is checked is what is stored. Unknown fields are
// ignored, as the old backend ignored them.
import { decodeUtf8 } from '../lib/utf8.js';
import type { Part } from './multipart.js';
import type { RawUpload, UploadProblems } from './validate.js';

/** The fields of an upload, by position (the file last); each is seen at most once (a bit each). */
const FIELDS = [
  'label', 'key', 'width', 'height', 'warnings_json', 'cone_polygons_json', 'pole_polygons_json', 'detection_items_json', 'file',
] as const satisfies ReadonlyArray<keyof RawUpload | 'file'>;
const FIELD_INDEX = new Map<string, number>(FIELDS.map((f, i) => [f, i]));
const FILE_INDEX = FIELDS.length - 1;

export interface UploadForm {
  raw: RawUpload;
  image: Buffer | undefined;
}

/** Reads the upload's fields from its parts; what is wrong goes to `problems` (checked later with the rest). */
export function readUploadForm(parts: Part[], problems: UploadProblems): UploadForm {
  const text: Array<string | undefined> = new Array(FILE_INDEX).fill(undefined);
  let image: Buffer | undefined;
  let seen = 0;
  for (const part of parts) {
    const i = part.name === null ? undefined : FIELD_INDEX.get(part.name);
    if (i === undefined) continue;
    const field = FIELDS[i]!;
    if (seen & (1 << i)) {
      if (!problems.has(field)) problems.add(field, 'is sent more than once');
      continue;
    }
    seen |= 1 << i;
    if (i === FILE_INDEX) {
      if (part.filename === null) problems.add(field, 'must be a file part (with a filename), not a text field');
      else image = part.value;
      continue;
    }
    if (part.filename !== null) {
      problems.add(field, 'must be a text field, not a file');
      continue;
    }
    const value = decodeUtf8(part.value);
    if (value === null) problems.add(field, 'is not valid UTF-8');
    else text[i] = value;
  }
  // One object shape for every upload (assigned by name, not by a key read off the wire).
  const raw: RawUpload = {
    label: text[0], key: text[1], width: text[2], height: text[3],
    warnings_json: text[4], cone_polygons_json: text[5], pole_polygons_json: text[6], detection_items_json: text[7],
  };
  return { raw, image };
}
