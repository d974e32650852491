// Downscaling one frame with sharp (libvips). Runs on libuv's thread pool, off the event loop.
import { isImage } from '../ingest/validate.js';

type Sharp = (typeof import('sharp'))['default'];
let loaded: Promise<Sharp> | null = null;

/**
 * sharp, loaded on the first preview (libvips holds about 19 MB, which a service whose viewers
 * never ask for previews need not pay). Process-wide settings: one libvips thread per resize, so
 * that the number of resizes at once (the preview maker's concurrency) is the number of cores
 * they may use; no operation cache, since every frame is new and it would only keep them alive.
 */
function loadSharp(): Promise<Sharp> {
  loaded ??= import('sharp').then(({ default: sharp }) => {
    sharp.concurrency(1);
    sharp.cache(false);
    return sharp;
  });
  return loaded;
}

/** Larger images are not decoded (passed through): 8K UHD is 33 MP; decoding costs ~3 bytes a pixel. */
const MAX_INPUT_PIXELS = 50_000_000;

export interface Resized {
  image: Buffer;
  /** The original's size in pixels when asked for (`withSize`), else 0. */
  sourceWidth: number;
  sourceHeight: number;
}

/**
 * A JPEG `width` pixels wide (never wider than the original) of a JPEG or PNG. Throws when the
 * bytes are not one (frames from another writer of the Redis streams are not checked) or cannot
 * be decoded. Warnings such as a truncated JPEG do not stop it: what decodes is shown.
 */
export async function resizeToJpeg(input: Buffer, width: number, quality: number, withSize: boolean): Promise<Resized> {
  if (!isImage(input)) throw new Error('not a JPEG or PNG');
  const sharp = await loadSharp();
  const img = sharp(input, { failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS });
  let sourceWidth = 0;
  let sourceHeight = 0;
  if (withSize) {
    const meta = await img.metadata();
    sourceWidth = meta.width ?? 0;
    sourceHeight = meta.height ?? 0;
  }
  const image = await img.resize({ width, withoutEnlargement: true }).jpeg({ quality }).toBuffer();
  return { image, sourceWidth, sourceHeight };
}
