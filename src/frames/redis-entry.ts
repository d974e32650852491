// Small pieces shared by the Redis frame store and its reader: the old backend's entry fields,
// turning an entry into a StoredFrame, and logging an outage once instead of once per retry.
import { Errors } from '../errors.js';
import type { FrameFields, StoredFrame } from './frame.js';

/** A pino-like logger (Fastify's logger fits). */
export interface Logger {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
}

/** XADD field/value pairs, named exactly as the old backend wrote them (DESIGN.md §2). */
export function entryFields(f: FrameFields): (string | Buffer)[] {
  return [
    'frame', f.frame,
    'warnings', f.warnings,
    'cone_polygons', f.conePolygons,
    'pole_polygons', f.polePolygons,
    'detection_items', f.detectionItems,
    'width', f.width,
    'height', f.height,
  ];
}

/**
 * A stream entry as a frame, or null when it holds no image (not written in the layout).
 * Fields a writer left out read as the upload defaults: "" for metadata, "0" for sizes.
 */
export function entryToFrame(label: string, key: string, id: string, fields: Buffer[]): StoredFrame | null {
  let frame: Buffer | undefined;
  const text: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!.toString('latin1');
    if (name === 'frame') frame = fields[i + 1];
    else text[name] = fields[i + 1]!.toString('utf8');
  }
  if (!frame) return null;
  return {
    label,
    key,
    id,
    frame,
    warnings: text.warnings ?? '',
    conePolygons: text.cone_polygons ?? '',
    polePolygons: text.pole_polygons ?? '',
    detectionItems: text.detection_items ?? '',
    width: text.width ?? '0',
    height: text.height ?? '0',
  };
}

/** What callers get when Redis cannot answer: a 503 with a stable code, the cause kept for logs. */
export function unavailable(cause: unknown): Error {
  return new Errors.STORE_UNAVAILABLE({ cause });
}

/** Remembers which parts are failing, so an outage is logged when it starts and when it ends. */
export class Outages {
  private readonly down = new Set<string>();
  constructor(private readonly log: Logger) {}

  fail(part: string, err: unknown): void {
    if (this.down.has(part)) return;
    this.down.add(part);
    this.log.warn({ err: err instanceof Error ? err.message : String(err) }, `Redis frame store: ${part} failing`);
  }

  ok(part: string): void {
    if (this.down.delete(part)) this.log.info({}, `Redis frame store: ${part} recovered`);
  }
}
