// Viewer messages (DESIGN.md §2): a UTF-8 JSON header, the 7 bytes `--IMG--`, then the image.

export interface FrameHeader {
  key?: string;
  id?: string;
  warnings?: string;
  cone_polygons?: string;
  pole_polygons?: string;
  detection_items?: string;
  width?: string | number;
  height?: string | number;
}

const DELIMITER = [0x2d, 0x2d, 0x49, 0x4d, 0x47, 0x2d, 0x2d]; // --IMG--
/** Headers are small; a message without a delimiter in its first bytes is not a frame. */
const MAX_HEADER_BYTES = 1 << 20;
const decoder = new TextDecoder();

function findDelimiter(bytes: Uint8Array): number {
  const end = Math.min(bytes.length - DELIMITER.length, MAX_HEADER_BYTES);
  outer: for (let i = 0; i <= end; i++) {
    for (let j = 0; j < DELIMITER.length; j++) if (bytes[i + j] !== DELIMITER[j]) continue outer;
    return i;
  }
  return -1;
}

/** Splits a binary message; null when it is not one (no delimiter or a header that is not a JSON object). */
export function splitFrame(data: ArrayBuffer): { header: FrameHeader; image: Uint8Array } | null {
  const bytes = new Uint8Array(data);
  const at = findDelimiter(bytes);
  if (at < 0) return null;
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(bytes.subarray(0, at)));
  } catch {
    return null;
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) return null;
  return { header: header as FrameHeader, image: bytes.subarray(at + DELIMITER.length) };
}
