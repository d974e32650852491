// Text from the wire is decoded strictly: bytes that are not UTF-8 are refused, never replaced with
// U+FFFD, so what is stored is what was sent (a leading BOM included). Same verdict as a
// TextDecoder with fatal: true, through Node's native validator (no exception per refusal).
import { isUtf8 } from 'node:buffer';

/** The text of `bytes`, or null when they are not valid UTF-8. */
export function decodeUtf8(bytes: Buffer): string | null {
  return isUtf8(bytes) ? bytes.toString('utf8') : null;
}
