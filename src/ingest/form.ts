// The upload form of POST /frames: which multipart parts make an upload. Each known field is sent
// once, as text (strict UTF-8) or, for `file`, as a file part; a second value of a field is refused
// rather than one of them picked, so that what is checked is what is stored. Unknown fields are
// ignored, as the old backend ignored them.
import { decodeUtf8 } from '../lib/utf8.js';
import type { Part } from './multipart.js';
import { METADATA_FIELDS, type RawUpload, type UploadProblems } from './validate.js';

const TEXT_FIELDS = new Set<string>(['label', 'key', 'width', 'height', ...METADATA_FIELDS.map(([wire]) => wire)]);
const FILE_FIELD = 'file';

export interface UploadForm {
  raw: RawUpload;
  image: Buffer | undefined;
}

/** Reads the upload's fields from its parts; what is wrong goes to `problems` (checked later with the rest). */
export function readUploadForm(parts: Part[], problems: UploadProblems): UploadForm {
  const raw: Record<string, string> = {};
  let image: Buffer | undefined;
  const seen = new Set<string>();
  for (const part of parts) {
    const field = part.name;
    if (field === null || (field !== FILE_FIELD && !TEXT_FIELDS.has(field))) continue;
    if (seen.has(field)) {
      if (!problems.has(field)) problems.add(field, 'is sent more than once');
      continue;
    }
    seen.add(field);
    if (field === FILE_FIELD) {
      if (part.filename === null) problems.add(field, 'must be a file part (with a filename), not a text field');
      else image = part.value;
      continue;
    }
    if (part.filename !== null) {
      problems.add(field, 'must be a text field, not a file');
      continue;
    }
    const text = decodeUtf8(part.value);
    if (text === null) problems.add(field, 'is not valid UTF-8');
    else raw[field] = text;
  }
  return { raw, image };
}
