// Overlay geometry: the frame's coordinate space, its letterboxed place in a tile, and the
// detector's boxes and polygons parsed from the metadata strings (DESIGN.md §2). No DOM here.

export interface Size {
  width: number;
  height: number;
}

/** Where the frame lands inside a box: scaled to fit, centred, its aspect kept. */
export interface Fit {
  scale: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export type Point = [number, number];

export interface Detection {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  confidence: number;
  classId: number;
}

/** Classes that mean someone is missing protective gear: drawn in the alarm colour. */
export const VIOLATION_CLASSES: ReadonlySet<number> = new Set([2, 3, 4]);

// Metadata comes from detectors we do not control: cap what one frame may make us draw.
const MAX_DETECTIONS = 500;
const MAX_POLYGONS = 200;
const MAX_POINTS = 1000;

function positiveInt(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/**
 * The size the overlay coordinates refer to: the header's width and height, or the image's own
 * size when either is 0, missing or not a number.
 */
export function frameSpace(headerWidth: unknown, headerHeight: unknown, image: Size): Size {
  const w = positiveInt(headerWidth);
  const h = positiveInt(headerHeight);
  return w > 0 && h > 0 ? { width: w, height: h } : { width: image.width, height: image.height };
}

/** Fits `content` into `box`, centred, aspect kept (letterbox or pillarbox). */
export function letterbox(content: Size, box: Size): Fit {
  if (content.width <= 0 || content.height <= 0 || box.width <= 0 || box.height <= 0) {
    return { scale: 0, x: 0, y: 0, width: 0, height: 0 };
  }
  const scale = Math.min(box.width / content.width, box.height / content.height);
  const width = content.width * scale;
  const height = content.height * scale;
  return { scale, x: (box.width - width) / 2, y: (box.height - height) / 2, width, height };
}

export function toScreen(fit: Fit, p: Point): Point {
  return [fit.x + p[0] * fit.scale, fit.y + p[1] * fit.scale];
}

/** A detection's rectangle on screen (corners in either order). */
export function screenRect(fit: Fit, d: Detection): { x: number; y: number; width: number; height: number } {
  const [ax, ay] = toScreen(fit, [Math.min(d.x1, d.x2), Math.min(d.y1, d.y2)]);
  const [bx, by] = toScreen(fit, [Math.max(d.x1, d.x2), Math.max(d.y1, d.y2)]);
  return { x: ax, y: ay, width: bx - ax, height: by - ay };
}

function parseJson(raw: string | undefined | null): unknown {
  if (!raw) return null;
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * `detection_items`: rows of [x1, y1, x2, y2, confidence, class_id]; extra columns (a track id)
 * are ignored, malformed rows skipped.
 */
export function parseDetections(raw: string | undefined | null): Detection[] {
  const v = parseJson(raw);
  if (!Array.isArray(v)) return [];
  const out: Detection[] = [];
  for (const row of v) {
    if (out.length >= MAX_DETECTIONS) break;
    if (!Array.isArray(row) || row.length < 6) continue;
    const [x1, y1, x2, y2, confidence, classId] = row as unknown[];
    if (![x1, y1, x2, y2, confidence, classId].every(isNum)) continue;
    out.push({ x1: x1 as number, y1: y1 as number, x2: x2 as number, y2: y2 as number, confidence: confidence as number, classId: Math.round(classId as number) });
  }
  return out;
}

/** `cone_polygons` / `pole_polygons`: a list of polygons, each a list of [x, y]; fewer than 3 points skipped. */
export function parsePolygons(raw: string | undefined | null): Point[][] {
  const v = parseJson(raw);
  if (!Array.isArray(v)) return [];
  const out: Point[][] = [];
  let points = 0;
  for (const poly of v) {
    if (out.length >= MAX_POLYGONS || points >= MAX_POINTS) break;
    if (!Array.isArray(poly)) continue;
    const pts: Point[] = [];
    for (const p of poly) {
      if (Array.isArray(p) && p.length >= 2 && isNum(p[0]) && isNum(p[1])) pts.push([p[0], p[1]]);
    }
    if (pts.length >= 3) {
      out.push(pts);
      points += pts.length;
    }
  }
  return out;
}

/** Confidence as a whole percent (detectors send 0–1; a value already in percent is kept). */
export function confidencePercent(c: number): number {
  return Math.round(c <= 1 ? c * 100 : c);
}
