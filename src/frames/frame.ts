// A frame as stored: the image and the metadata strings exactly as uploaded (DESIGN.md §2).

export interface FrameFields {
  /** The image bytes (JPEG or PNG). */
  frame: Buffer;
  warnings: string;
  conePolygons: string;
  polePolygons: string;
  detectionItems: string;
  /** Decimal integers as text, "0" when unknown. */
  width: string;
  height: string;
}

/** A viewer message (DESIGN.md §2) and the same bytes framed as one WebSocket binary frame. */
export interface ViewerMessage {
  /** WebSocket frame header + payload: what is written to every viewer's socket. */
  framed: Buffer;
  /** The message itself (a view into `framed`). */
  payload: Buffer;
}

/**
 * A downscaled rendition of a frame (previews/), made once per width and shared by every viewer.
 * `image` is the preview JPEG, or the original itself when it could not be decoded or came out no
 * smaller; `width`/`height` go in its header (the original's, so overlays keep their coordinates).
 */
export interface FramePreview {
  image: Buffer;
  width: string;
  height: string;
  pushMessage?: ViewerMessage;
  /** The push message with the entry id as its last header field (viewers that ask `with_id`). */
  pushIdMessage?: ViewerMessage;
  pullMessage?: ViewerMessage;
  /** Previews made of this frame, by width. */
  previews?: Map<number, FramePreview>;
}

export interface StoredFrame extends FrameFields {
  label: string;
  key: string;
  /** The stream entry id, "ms-seq", increasing within a stream. */
  id: string;
  /** Wire messages, encoded once on first use and shared by every viewer (see wire.ts). */
  pushMessage?: ViewerMessage;
  /** The push message with the entry id as its last header field (viewers that ask `with_id`). */
  pushIdMessage?: ViewerMessage;
  pullMessage?: ViewerMessage;
  /** Previews made of this frame, by width. */
  previews?: Map<number, FramePreview>;
}

/**
 * A stored frame made from an upload's fields: built property by property, not spread, so every
 * frame has one shape (an object spread measured as a tenth of the memory store's upload path).
 */
export function storedFrame(label: string, key: string, id: string, f: FrameFields): StoredFrame {
  return {
    frame: f.frame, warnings: f.warnings, conePolygons: f.conePolygons, polePolygons: f.polePolygons,
    detectionItems: f.detectionItems, width: f.width, height: f.height, label, key, id,
    pushMessage: undefined, pushIdMessage: undefined, pullMessage: undefined, previews: undefined,
  };
}
