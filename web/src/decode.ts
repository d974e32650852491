// Decoding a frame's image off the main thread. WebCodecs' ImageDecoder where the browser has it
// (it decodes on a worker thread, and a JPEG asked for a smaller size is decoded at that size),
// else createImageBitmap from a Blob (scaled in the decoder when a size is given).

export interface DecodedImage {
  image: CanvasImageSource;
  width: number;
  height: number;
  /** Pixel memory held until close(). */
  bytes: number;
  close(): void;
}

export interface DecodeSize {
  width: number;
  height: number;
}

function imageType(bytes: Uint8Array): string | null {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'image/jpeg';
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'image/png';
  return null;
}

type ImageDecoderCtor = new (init: { data: BufferSource; type: string; desiredWidth?: number; desiredHeight?: number; preferAnimation?: boolean }) => {
  decode(): Promise<{ image: VideoFrame }>;
  close(): void;
};

const WebCodecsDecoder = (globalThis as { ImageDecoder?: ImageDecoderCtor }).ImageDecoder;
let webCodecsWorks = WebCodecsDecoder !== undefined;

async function withImageDecoder(bytes: Uint8Array, type: string, size: DecodeSize | undefined): Promise<DecodedImage> {
  const decoder = new WebCodecsDecoder!({ data: bytes as Uint8Array<ArrayBuffer>, type, preferAnimation: false, ...(size ? { desiredWidth: size.width, desiredHeight: size.height } : {}) });
  try {
    const { image } = await decoder.decode();
    return { image, width: image.displayWidth, height: image.displayHeight, bytes: image.allocationSize(), close: () => image.close() };
  } finally {
    decoder.close();
  }
}

async function withImageBitmap(bytes: Uint8Array, size: DecodeSize | undefined): Promise<DecodedImage> {
  const opts: ImageBitmapOptions | undefined = size ? { resizeWidth: size.width, resizeHeight: size.height, resizeQuality: 'medium' } : undefined;
  const bitmap = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>]), opts);
  return { image: bitmap, width: bitmap.width, height: bitmap.height, bytes: bitmap.width * bitmap.height * 4, close: () => bitmap.close() };
}

/** Decodes once; `size`: the size it will be shown at (a hint: the result may be larger). */
export async function decodeImage(bytes: Uint8Array, size?: DecodeSize): Promise<DecodedImage> {
  const type = imageType(bytes);
  if (webCodecsWorks && type) {
    try {
      return await withImageDecoder(bytes, type, size);
    } catch (err) {
      // A browser whose ImageDecoder cannot take this type: use the other path from now on.
      if (err instanceof DOMException && err.name === 'NotSupportedError') webCodecsWorks = false;
      else throw err;
    }
  }
  return withImageBitmap(bytes, size);
}
