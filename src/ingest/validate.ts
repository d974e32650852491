// The checks every upload passes, whether it came by POST /frames or WS /ws/frames (DESIGN.md §2).
// Metadata is checked for JSON syntax only and stored verbatim; images by signature only. Every
// problem of an upload is reported at once (bounded), not only the first.
import { Errors, withProblems, type Problem } from '../errors.js';
import type { FrameFields } from '../frames/frame.js';
import { SITE_PATTERN, SITE_RULE } from '../users/validation.js';
import { TextCache } from '../lib/text-cache.js';

export const METADATA_FIELDS = [
  ['warnings_json', 'warnings'],
  ['cone_polygons_json', 'conePolygons'],
  ['pole_polygons_json', 'polePolygons'],
  ['detection_items_json', 'detectionItems'],
] as const;

const REQUIRED = new Set(['warnings_json', 'cone_polygons_json', 'pole_polygons_json']);
/** Keys (camera names) are free text, but bounded so one camera cannot bloat every index. */
export const MAX_KEY_LENGTH = 256;
/** A label is a site, so it follows the site-name rule: only a label that can be a site can be watched. */
const LABEL = new RegExp(SITE_PATTERN, 'u');
const KEY = new RegExp(`^[^\\x00-\\x1f\\x7f]{1,${MAX_KEY_LENGTH}}$`, 'u');
/** In unicode mode this matches unpaired surrogates only: text that UTF-8 (and Redis) cannot hold as sent. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

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

export interface UploadLimits {
  maxFrameBytes: number;
  /** Largest value of each metadata field, in UTF-8 bytes. */
  maxMetadataBytes: number;
}

export interface ValidUpload {
  label: string;
  key: string;
  fields: FrameFields;
}

type Kind = 'PAYLOAD_TOO_LARGE' | 'VALIDATION' | 'NOT_AN_IMAGE';
/** The reply takes the status of its most telling problem: size first, then fields, then the image type. */
const PRECEDENCE: Kind[] = ['PAYLOAD_TOO_LARGE', 'VALIDATION', 'NOT_AN_IMAGE'];

/** What is wrong with one upload, collected while it is read and checked. */
export class UploadProblems {
  private readonly list: Array<Problem & { kind: Kind }> = [];

  add(field: string, message: string, kind: Kind = 'VALIDATION'): void {
    this.list.push({ field, message, kind });
  }

  has(field: string): boolean {
    return this.list.some((p) => p.field === field);
  }

  /** Throws one catalogue error reporting every problem (413, else 422, else 415); nothing when there is none. */
  throwIfAny(): void {
    if (this.list.length === 0) return;
    const kind = PRECEDENCE.find((k) => this.list.some((p) => p.kind === k))!;
    throw withProblems((detail) => new Errors[kind](detail), this.list.map(({ field, message }) => ({ field, message })));
  }
}

export function isImage(b: Buffer): boolean {
  const jpeg = b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
  const png = b.length >= 8 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a;
  return jpeg || png;
}

function name(raw: unknown, field: string, rule: RegExp, ruleText: string, problems: UploadProblems): string {
  if (problems.has(field)) return ''; // already refused while reading the form
  if (typeof raw !== 'string' || raw === '') problems.add(field, 'is required');
  else if (LONE_SURROGATE.test(raw)) problems.add(field, 'is not valid Unicode text');
  else if (!rule.test(raw)) problems.add(field, `must be ${ruleText}`);
  else return raw;
  return '';
}

function metadata(raw: unknown, field: string, limits: UploadLimits, problems: UploadProblems): string {
  if (problems.has(field)) return '';
  if (raw === undefined || raw === null) {
    if (REQUIRED.has(field)) problems.add(field, 'is required');
    return '';
  }
  if (typeof raw !== 'string') problems.add(field, 'must be a string of JSON text');
  else if (Buffer.byteLength(raw) > limits.maxMetadataBytes) {
    problems.add(field, `is larger than ${limits.maxMetadataBytes} bytes (MAX_METADATA_BYTES)`, 'PAYLOAD_TOO_LARGE');
  } else if (LONE_SURROGATE.test(raw)) problems.add(field, 'is not valid Unicode text');
  else if (raw !== '' && !isJson(raw)) problems.add(field, 'is not valid JSON');
  else return raw;
  return '';
}

/** Metadata texts found valid lately: a hit is one lookup instead of a parse (a tenth of the upload path). */
const validJson = new TextCache<true>(1024, 1024);

function isJson(text: string): boolean {
  if (validJson.get(text)) return true;
  try {
    JSON.parse(text);
  } catch {
    return false;
  }
  validJson.set(text, true);
  return true;
}

function size(raw: unknown, field: string, problems: UploadProblems): string {
  if (problems.has(field)) return '0';
  if (raw === undefined || raw === null || raw === '') return '0';
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return String(raw);
  if (typeof raw === 'string' && /^\d{1,9}$/.test(raw.trim())) return String(Number(raw.trim()));
  problems.add(field, 'must be a non-negative integer');
  return '0';
}

/**
 * Validates an upload and returns the label, key and the fields to store. Throws one catalogue
 * error naming every problem (those already found in `problems` included): 413 when something is
 * too large, else 422 for fields, else 415 for a non-image. No side effects.
 */
export function validateUpload(raw: RawUpload, image: Buffer | undefined, limits: UploadLimits, problems = new UploadProblems()): ValidUpload {
  const label = name(raw.label, 'label', LABEL, `a site name: ${SITE_RULE}`, problems);
  const key = name(raw.key, 'key', KEY, `1 to ${MAX_KEY_LENGTH} characters without control characters`, problems);
  const meta: Record<string, string> = {};
  for (const [wire, prop] of METADATA_FIELDS) meta[prop] = metadata(raw[wire], wire, limits, problems);
  const width = size(raw.width, 'width', problems);
  const height = size(raw.height, 'height', problems);
  if (!problems.has('file')) {
    if (!image || image.length === 0) problems.add('file', 'is required and must not be empty');
    else if (image.length > limits.maxFrameBytes) problems.add('file', `is larger than ${limits.maxFrameBytes} bytes (MAX_FRAME_BYTES)`, 'PAYLOAD_TOO_LARGE');
    else if (!isImage(image)) problems.add('file', 'is not an image (expected JPEG or PNG bytes)', 'NOT_AN_IMAGE');
  }
  problems.throwIfAny();
  return {
    label,
    key,
    fields: {
      frame: image!,
      warnings: meta.warnings!,
      conePolygons: meta.conePolygons!,
      polePolygons: meta.polePolygons!,
      detectionItems: meta.detectionItems!,
      width,
      height,
    },
  };
}
