// The old backend's stream entries: the fields XADD writes, and an entry read back as a StoredFrame.
import { storedFrame, type FrameFields, type StoredFrame } from './frame.js';

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
  return storedFrame(label, key, id, {
    frame,
    warnings: text.warnings ?? '',
    conePolygons: text.cone_polygons ?? '',
    polePolygons: text.pole_polygons ?? '',
    detectionItems: text.detection_items ?? '',
    width: text.width ?? '0',
    height: text.height ?? '0',
  });
}
