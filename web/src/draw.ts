// Draws one frame into a canvas: the image letterboxed to its aspect, then the cone and pole
// polygons as translucent areas and the detection boxes with class name and confidence, all
// scaled from the frame's coordinate space (overlay.ts) to the canvas.
import { confidencePercent, frameSpace, letterbox, parseDetections, parsePolygons, screenRect, toScreen, VIOLATION_CLASSES, type Fit, type Point } from './overlay.js';
import type { FrameHeader } from './wire.js';
import type { Lookup } from './warnings.js';

export const ALARM_COLOUR = '#ff1f1f';
export const BACKGROUND = '#101418';
const CLASS_COLOURS: Record<number, string> = {
  0: '#2ecc71', // hardhat
  1: '#1abc9c', // mask
  5: '#3498db', // person
  6: '#ff9f1a', // safety cone
  7: '#27ae60', // safety vest
  8: '#f1c40f', // machinery
  9: '#00bcd4', // utility pole
  10: '#9b59b6', // vehicle
};
const CONE = { fill: 'rgba(255, 159, 26, 0.28)', stroke: 'rgba(255, 159, 26, 0.9)' };
const POLE = { fill: 'rgba(0, 188, 212, 0.25)', stroke: 'rgba(0, 188, 212, 0.9)' };

export function boxColour(classId: number): string {
  return VIOLATION_CLASSES.has(classId) ? ALARM_COLOUR : CLASS_COLOURS[classId] ?? '#e0e0e0';
}

function polygon(ctx: CanvasRenderingContext2D, fit: Fit, pts: Point[], style: { fill: string; stroke: string }, lineWidth: number): void {
  ctx.beginPath();
  pts.forEach((p, i) => {
    const [x, y] = toScreen(fit, p);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.closePath();
  ctx.fillStyle = style.fill;
  ctx.fill();
  ctx.lineWidth = lineWidth;
  ctx.strokeStyle = style.stroke;
  ctx.stroke();
}

export interface DrawResult {
  fit: Fit;
  /** Detections drawn in the alarm colour. */
  violations: number;
}

/** `scale`: device pixels per CSS pixel (line widths and text follow it). */
/** `size`: the decoded image's size (the coordinate space when the header has none). */
export function drawFrame(ctx: CanvasRenderingContext2D, image: CanvasImageSource, size: { width: number; height: number }, header: FrameHeader, t: Lookup, scale: number): DrawResult {
  const { width: cw, height: ch } = ctx.canvas;
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, cw, ch);
  const space = frameSpace(header.width, header.height, size);
  const fit = letterbox(space, { width: cw, height: ch });
  if (fit.scale === 0) return { fit, violations: 0 };
  ctx.drawImage(image, fit.x, fit.y, fit.width, fit.height);

  const line = Math.max(1, 2 * scale);
  for (const p of parsePolygons(header.cone_polygons)) polygon(ctx, fit, p, CONE, line);
  for (const p of parsePolygons(header.pole_polygons)) polygon(ctx, fit, p, POLE, line);

  let violations = 0;
  const fontPx = Math.max(9, Math.round(11 * scale));
  ctx.font = `600 ${fontPx}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  for (const d of parseDetections(header.detection_items)) {
    const r = screenRect(fit, d);
    const colour = boxColour(d.classId);
    if (VIOLATION_CLASSES.has(d.classId)) violations++;
    ctx.lineWidth = VIOLATION_CLASSES.has(d.classId) ? line * 1.5 : line;
    ctx.strokeStyle = colour;
    ctx.strokeRect(r.x, r.y, r.width, r.height);
    const name = t(`class.${d.classId}`) ?? t('class.unknown', { id: d.classId }) ?? `#${d.classId}`;
    const text = `${name} ${confidencePercent(d.confidence)}%`;
    const tw = ctx.measureText(text).width + 6 * scale;
    const th = fontPx + 4 * scale;
    // Above the box when there is room, else just inside its top edge.
    const ty = r.y - th >= fit.y ? r.y - th : r.y;
    const tx = Math.max(0, Math.min(r.x, cw - tw)); // kept inside the canvas
    ctx.fillStyle = colour;
    ctx.fillRect(tx, ty, tw, th);
    ctx.fillStyle = VIOLATION_CLASSES.has(d.classId) ? '#ffffff' : '#000000';
    ctx.fillText(text, tx + 3 * scale, ty + 2 * scale);
  }
  return { fit, violations };
}
