// Counters of the frame pipeline, readable as window.__framestream.stats: the benchmark and the
// browser tests read them to measure drawn against received frames and to see that no bitmap leaks.
export const stats = {
  /** Frame messages received (wall and large view), and their bytes. */
  received: 0,
  bytesReceived: 0,
  /** Frames replaced by a newer one before they were decoded (latest wins). */
  skipped: 0,
  decoded: 0,
  drawn: 0,
  decodeErrors: 0,
  /** Decoded images alive now (VideoFrames or ImageBitmaps), and their pixel memory. */
  bitmapsLive: 0,
  bitmapBytes: 0,
  /** Main-thread time spent handling messages, decoding callbacks and drawing, in ms. */
  busyMs: 0,
};

declare global {
  interface Window {
    __framestream?: { stats: typeof stats };
  }
}
window.__framestream = { stats };
