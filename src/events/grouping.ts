// Folds the warnings of incoming frames into runs, before they are written: one run per camera and
// warning for as long as the warning keeps coming back within the quiet period. A run holds what
// its event needs (first and last time, frames, counts, the first and the peak frame's image), so
// however many frames arrive between two writes, what waits is bounded by cameras × warnings, not
// by frames: at most `maxRuns` runs, and at most `maxImageBytes` of images (counted as the memory
// they keep alive: an image is a view into its upload's body; past the bound a run keeps no image
// and its event gets no snapshot). The writer (repository.ts) then extends the camera's open event
// or starts one. (Copying the images instead measured as twice the garbage collection.)
import type { WarningKind } from './warnings.js';

export interface Sighting {
  site: string;
  camera: string;
  code: string;
  kind: WarningKind;
  count: number;
  /** When this process received the frame (epoch ms). */
  at: number;
  /** The frame store's entry id. */
  frameId: string;
  /** The image, when it may be kept as a snapshot (small enough); else null. */
  image: Buffer | null;
}

export interface Run {
  site: string;
  camera: string;
  code: string;
  kind: WarningKind;
  firstAt: number;
  lastAt: number;
  frames: number;
  /** The count in the run's last frame. */
  count: number;
  firstFrameId: string;
  lastFrameId: string;
  firstCount: number;
  firstImage: Buffer | null;
  /** The first frame with the run's highest count (it may be the first frame). */
  peakCount: number;
  peakAt: number;
  peakFrameId: string;
  peakImage: Buffer | null;
}

/** One string per camera and warning (lengths make it unambiguous whatever the names hold). */
export function runKey(site: string, camera: string, code: string): string {
  return `${site.length}:${site}${camera.length}:${camera}${code}`;
}

export class PendingRuns {
  /** runKey -> its runs, oldest first (more than one only when writes stall past a quiet period). */
  private readonly byKey = new Map<string, Run[]>();
  private count = 0;
  private imageBytes = 0;
  /** Frames whose warnings were dropped because too many runs were waiting. */
  droppedFrames = 0;
  /** Images not kept because `maxImageBytes` were held. */
  imagesSkipped = 0;

  constructor(
    private readonly quietMs: number,
    private readonly maxRuns: number,
    private readonly maxImageBytes: number,
  ) {}

  /** Bytes of images the waiting runs hold. */
  get heldImageBytes(): number {
    return this.imageBytes;
  }

  /** The image if the bound allows it, else null (counted). */
  private keep(image: Buffer | null): Buffer | null {
    if (!image) return null;
    if (this.imageBytes + held(image) > this.maxImageBytes) {
      this.imagesSkipped++;
      return null;
    }
    this.imageBytes += held(image);
    return image;
  }

  private release(run: Run): void {
    this.imageBytes -= imagesOf(run);
  }

  /** Runs waiting to be written. */
  get size(): number {
    return this.count;
  }

  add(s: Sighting): void {
    const key = runKey(s.site, s.camera, s.code);
    let runs = this.byKey.get(key);
    const last = runs?.[runs.length - 1];
    if (last && s.at - last.lastAt <= this.quietMs) {
      last.lastAt = Math.max(last.lastAt, s.at);
      last.frames++;
      last.count = s.count;
      last.lastFrameId = s.frameId;
      if (s.count > last.peakCount) {
        if (last.peakImage && last.peakImage !== last.firstImage) this.imageBytes -= held(last.peakImage);
        last.peakCount = s.count;
        last.peakAt = s.at;
        last.peakFrameId = s.frameId;
        last.peakImage = this.keep(s.image);
      }
      return;
    }
    if (this.count >= this.maxRuns) this.dropOldest();
    const image = this.keep(s.image);
    const run: Run = {
      site: s.site, camera: s.camera, code: s.code, kind: s.kind,
      firstAt: s.at, lastAt: s.at, frames: 1, count: s.count,
      firstFrameId: s.frameId, lastFrameId: s.frameId, firstCount: s.count, firstImage: image,
      peakCount: s.count, peakAt: s.at, peakFrameId: s.frameId, peakImage: image,
    };
    if (!runs) this.byKey.set(key, (runs = []));
    runs.push(run);
    this.count++;
  }

  /**
   * Takes up to `max` runs, oldest camera first, each camera's runs in order; with `ready`, only
   * those of the cameras and warnings it accepts (by key).
   */
  take(max: number, ready?: (key: string) => boolean): Run[] {
    const out: Run[] = [];
    for (const [key, runs] of this.byKey) {
      if (ready && !ready(key)) continue;
      while (runs.length > 0 && out.length < max) out.push(runs.shift()!);
      if (runs.length === 0) this.byKey.delete(key);
      if (out.length >= max) break;
    }
    this.count -= out.length;
    for (const r of out) this.release(r);
    return out;
  }

  /**
   * Puts runs taken by take() back in front (their write failed), within the bound: past it the
   * oldest are dropped and counted, as for new runs.
   */
  putBack(runs: Run[]): void {
    const front = new Map<string, Run[]>();
    for (const r of runs) {
      const key = runKey(r.site, r.camera, r.code);
      const list = front.get(key);
      if (list) list.push(r);
      else front.set(key, [r]);
    }
    for (const [key, list] of this.byKey) {
      const f = front.get(key);
      if (f) f.push(...list);
      else front.set(key, list);
    }
    this.byKey.clear();
    for (const [key, list] of front) this.byKey.set(key, list);
    this.count += runs.length;
    for (const r of runs) {
      // Their images count again, within the bound.
      const first = r.firstImage && this.imageBytes + held(r.firstImage) <= this.maxImageBytes ? r.firstImage : null;
      if (r.firstImage && !first) this.imagesSkipped++;
      if (r.peakImage === r.firstImage) r.peakImage = first;
      r.firstImage = first;
      if (first) this.imageBytes += held(first);
      if (r.peakImage && r.peakImage !== first) {
        if (this.imageBytes + held(r.peakImage) <= this.maxImageBytes) this.imageBytes += held(r.peakImage);
        else {
          r.peakImage = null;
          this.imagesSkipped++;
        }
      }
    }
    while (this.count > this.maxRuns) this.dropOldest();
  }

  private dropOldest(): void {
    const first = this.byKey.entries().next();
    if (first.done) return;
    const [key, runs] = first.value;
    const run = runs.shift()!;
    if (runs.length === 0) this.byKey.delete(key);
    this.count--;
    this.release(run);
    this.droppedFrames += run.frames;
  }
}

/** The memory an image keeps alive: the buffer it is a view of (an upload's body). */
const held = (image: Buffer) => image.buffer.byteLength;

/** Bytes the images of a run keep alive (the first frame may be its peak: counted once). */
function imagesOf(run: Run): number {
  return (run.firstImage ? held(run.firstImage) : 0) + (run.peakImage && run.peakImage !== run.firstImage ? held(run.peakImage) : 0);
}
