// The checks every upload passes, whether it came by POST /frames or WS /ws/frames (DESIGN.md §2).
// Metadata is checked for JSON syntax only and stored verbatim; images by signature only.
import { Errors } from '../errors.js';
import type { FrameFields } from '../frames/frame.js';

export const METADATA_FIELDS = [
  ['warnings_json', 'warnings'],
  ['cone_polygons_json', 'conePolygons'],
  ['pole_polygons_json', 'polePolygons'],
  ['detection_items_json', 'detectionItems'],
] as const;

const REQUIRED = new Set(['warnings_json', 'cone_polygons_json', 'pole_polygons_json']);
/** Label and key are free UTF-8, but bounded so one camera cannot bloat every index. */
export const MAX_NAME_LENGTH = 256;

export interface RawUpload {
  label?: unknown;
  key?: unknown;
  warnings_json?: unknown;
  cone_polygons_json?: unknown;
  pole_polygons_json?: unknown;
  detection_items_json?: unknown;
  width?: unknown;
  height?: unknown;
}

export function isImage(b: Buffer): boolean {
  const jpeg = b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
  const png = b.length >= 8 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a;
  return jpeg || png;
}

function name(raw: unknown, field: string): string {
  if (typeof raw !== 'string' || raw === '') throw new Errors.VALIDATION(`${field} is required`);
  if (raw.length > MAX_NAME_LENGTH) throw new Errors.VALIDATION(`${field} is longer than ${MAX_NAME_LENGTH} characters`);
  return raw;
}

function size(raw: unknown, field: string): string {
  if (raw === undefined || raw === null || raw === '') return '0';
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return String(raw);
  if (typeof raw === 'string' && /^\d{1,9}$/.test(raw.trim())) return String(Number(raw.trim()));
  throw new Errors.VALIDATION(`${field} must be a non-negative integer`);
}

/**
 * Validates an upload and returns the label, key and the fields to store; throws a catalogue error
 * (422 for fields, 415 for a non-image, 413 for an oversized image) without side effects.
 */
export function validateUpload(raw: RawUpload, image: Buffer | undefined, maxBytes: number): { label: string; key: string; fields: FrameFields } {
  const label = name(raw.label, 'label');
  const key = name(raw.key, 'key');
  const meta: Record<string, string> = {};
  for (const [wire, prop] of METADATA_FIELDS) {
    const v = raw[wire];
    if (v === undefined || v === null) {
      if (REQUIRED.has(wire)) throw new Errors.VALIDATION(`${wire} is required`);
      meta[prop] = '';
      continue;
    }
    if (typeof v !== 'string') throw new Errors.VALIDATION(`${wire} must be a string of JSON text`);
    if (v !== '') {
      try {
        JSON.parse(v);
      } catch {
        throw new Errors.VALIDATION(`${wire} is not valid JSON`);
      }
    }
    meta[prop] = v;
  }
  const width = size(raw.width, 'width');
  const height = size(raw.height, 'height');
  if (!image || image.length === 0) throw new Errors.VALIDATION('file is required and must not be empty');
  if (image.length > maxBytes) throw new Errors.PAYLOAD_TOO_LARGE(`file is larger than ${maxBytes} bytes`);
  if (!isImage(image)) throw new Errors.NOT_AN_IMAGE();
  return {
    label,
    key,
    fields: {
      frame: image,
      warnings: meta.warnings!,
      conePolygons: meta.conePolygons!,
      polePolygons: meta.polePolygons!,
      detectionItems: meta.detectionItems!,
      width,
      height,
    },
  };
}
