// A multipart/form-data parser for frame uploads. The body is already in memory (collected up to the
// route's body limit, see body.ts), so the parts are found with Buffer.indexOf and each value is a
// view into the body, not a copy: measured faster than a streaming parser for bodies of this size.
// It only splits; what the parts must be (names, duplicates, text) is the upload form's business
// (form.ts).
import { Errors } from '../errors.js';

export interface Part {
  /** The Content-Disposition name, or null when the part has none. */
  name: string | null;
  /** The Content-Disposition filename: a file part has one (possibly empty), a field has null. */
  filename: string | null;
  value: Buffer;
}

export interface MultipartLimits {
  /** Most parts in one body. */
  maxParts: number;
  /** Largest headers of one part, in bytes. */
  maxHeaderBytes: number;
}

const CRLF = Buffer.from('\r\n');
const CRLF2 = Buffer.from('\r\n\r\n');

export function boundaryOf(contentType: string | undefined): string | null {
  const m = /;\s*boundary=(?:"([^"]{1,200})"|([^\s;]{1,200}))/i.exec(contentType ?? '');
  return m ? (m[1] ?? m[2]!) : null;
}

// Content-Disposition parameters: quoted (with backslash escapes) or bare tokens.
const PARAM = {
  name: /;\s*name=(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i,
  filename: /;\s*filename=(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i,
};

function param(header: string, which: keyof typeof PARAM): string | null {
  const m = PARAM[which].exec(header);
  if (!m) return null;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!;
}

/**
 * Parses a whole multipart body into its parts, in order. Throws 400 BAD_REQUEST when it is not
 * well-formed, 413 PAYLOAD_TOO_LARGE past a limit.
 */
export function parseMultipart(body: Buffer, boundary: string, limits: MultipartLimits): Part[] {
  const first = Buffer.from(`--${boundary}`);
  // Every delimiter after the first is preceded by CRLF, which belongs to it, not to the value.
  const delim = Buffer.concat([CRLF, first]);
  const parts: Part[] = [];
  let pos = body.indexOf(first);
  if (pos < 0) throw new Errors.BAD_REQUEST('multipart body has no boundary');
  pos += first.length;
  for (;;) {
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // closing "--boundary--"
    // Transport padding (spaces, tabs) may follow a boundary before its CRLF.
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) throw new Errors.BAD_REQUEST('malformed multipart boundary line');
    if (parts.length >= limits.maxParts) throw new Errors.PAYLOAD_TOO_LARGE(`more than ${limits.maxParts} multipart parts`);
    // The part's headers end at the first empty line; the boundary line's own CRLF starts the
    // search, so a part without headers is found too. Looked for within the limit only: a huge
    // header costs nothing.
    const window = body.subarray(pos, pos + CRLF.length + limits.maxHeaderBytes + CRLF2.length);
    const headEnd = window.indexOf(CRLF2);
    if (headEnd < 0) {
      if (window.length > CRLF.length + limits.maxHeaderBytes + CRLF.length) {
        throw new Errors.PAYLOAD_TOO_LARGE(`a multipart part's headers are larger than ${limits.maxHeaderBytes} bytes`);
      }
      throw new Errors.BAD_REQUEST('malformed multipart part headers');
    }
    const headStart = pos + CRLF.length;
    const valueStart = pos + headEnd + CRLF2.length;
    const next = body.indexOf(delim, valueStart);
    if (next < 0) throw new Errors.BAD_REQUEST('multipart body is not terminated');
    // Header bytes as latin1: one character per byte, nothing replaced (names that matter are ASCII).
    const headers = headEnd > 0 ? body.toString('latin1', headStart, pos + headEnd) : '';
    const disposition = /^content-disposition:(.*)$/im.exec(headers)?.[1] ?? '';
    parts.push({ name: param(disposition, 'name'), filename: param(disposition, 'filename'), value: body.subarray(valueStart, next) });
    pos = next + delim.length;
  }
}
