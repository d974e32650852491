// Makes previews on demand, each frame at most once per width, at most `concurrency` at a time.
// Work is asked for per camera and width: while one preview of a camera is being made, only the
// newest frame asked for next waits (a newer one replaces it, counted as skipped), so when
// resizing falls behind, frames are skipped, never queued, and the memory held is one frame per
// camera and width. A preview is cached on its frame (like the frame's wire messages), so every
// viewer of that width gets the same bytes. Frames that cannot be decoded pass through as they are.
import type { FramePreview, StoredFrame } from '../frames/frame.js';
import { compareIds } from '../frames/keys.js';
import { resizeToJpeg } from './resize.js';

export interface PreviewSettings {
  /** Previews being made at once. */
  concurrency: number;
  /** JPEG quality of previews. */
  quality: number;
}

/** Who asked for a camera's preview: told about the frame it got, which may be newer than the one asked for. */
export interface PreviewSubscriber {
  /** False once its viewers are gone: what only it asked for is not made. */
  readonly active: boolean;
  deliver(frame: StoredFrame, preview: FramePreview): void;
}

export interface PreviewCounters {
  /** Previews made (resized). */
  made: number;
  /** Frames asked for but not made, because a newer frame of the camera was asked for first (resizing behind). */
  skipped: number;
  /** Frames sent as they are because they could not be decoded. */
  passedThrough: number;
}

interface Job {
  frame: StoredFrame;
  subscribers: Set<PreviewSubscriber>;
}

/** One camera at one width: the preview being made and the newest frame waiting for it. */
interface Slot {
  width: number;
  running: Job | null;
  next: Job | null;
}

const UNKNOWN_SIZE = /^0*$/;

export class PreviewMaker {
  readonly counters: PreviewCounters = { made: 0, skipped: 0, passedThrough: 0 };
  private readonly slots = new Map<string, Slot>();
  /** Slots whose next job may start, in the order they asked. */
  private readonly ready = new Set<string>();
  private running = 0;

  constructor(private readonly settings: PreviewSettings) {}

  /** Previews being made now. */
  get inProgress(): number {
    return this.running;
  }

  /** Asks for the preview of `frame` at `width`; the subscriber is told at once if it exists. */
  want(frame: StoredFrame, width: number, subscriber: PreviewSubscriber): void {
    const made = frame.previews?.get(width);
    if (made) {
      subscriber.deliver(frame, made);
      return;
    }
    const key = `${frame.label}\0${frame.key}\0${width}`;
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = { width, running: null, next: null }));
    // Being made already, or a newer frame is: that answers this request too.
    if (slot.running && compareIds(frame.id, slot.running.frame.id) <= 0) {
      slot.running.subscribers.add(subscriber);
      return;
    }
    if (!slot.next) slot.next = { frame, subscribers: new Set([subscriber]) };
    else {
      slot.next.subscribers.add(subscriber);
      if (compareIds(frame.id, slot.next.frame.id) > 0) {
        this.counters.skipped++;
        slot.next.frame = frame;
      }
    }
    if (!slot.running) this.ready.add(key);
    this.pump();
  }

  private pump(): void {
    while (this.running < this.settings.concurrency && this.ready.size > 0) {
      const key = this.ready.values().next().value as string;
      this.ready.delete(key);
      const slot = this.slots.get(key)!;
      const job = slot.next!;
      slot.next = null;
      for (const s of job.subscribers) if (!s.active) job.subscribers.delete(s);
      if (job.subscribers.size === 0) {
        this.slots.delete(key); // nobody watches any more: nothing to make
        continue;
      }
      slot.running = job;
      this.running++;
      void this.make(job.frame, slot.width).then((preview) => this.finish(key, slot, job, preview));
    }
  }

  private finish(key: string, slot: Slot, job: Job, preview: FramePreview): void {
    const { frame } = job;
    (frame.previews ??= new Map()).set(slot.width, preview);
    this.running--;
    slot.running = null;
    const told = [...job.subscribers];
    // A request that waited for a frame no newer than this one is answered by it.
    if (slot.next && compareIds(slot.next.frame.id, frame.id) <= 0) {
      told.push(...slot.next.subscribers);
      slot.next = null;
    }
    if (slot.next) this.ready.add(key);
    else this.slots.delete(key);
    this.pump();
    for (const s of new Set(told)) if (s.active) s.deliver(frame, preview);
  }

  /** Never rejects: a frame that cannot be decoded is its own preview. */
  private async make(frame: StoredFrame, width: number): Promise<FramePreview> {
    const unknownSize = UNKNOWN_SIZE.test(frame.width) || UNKNOWN_SIZE.test(frame.height);
    try {
      const r = await resizeToJpeg(frame.frame, width, this.settings.quality, unknownSize);
      this.counters.made++;
      // The header keeps the original's size, the space of the overlays' coordinates; when the
      // producer left it unknown, the original's own size says it (the preview's would not).
      const size = unknownSize ? { width: String(r.sourceWidth), height: String(r.sourceHeight) } : { width: frame.width, height: frame.height };
      // No smaller than the original (a small frame, a tiny PNG): the original is the better preview.
      return r.image.length < frame.frame.length ? { image: r.image, ...size } : { image: frame.frame, ...size };
    } catch {
      this.counters.passedThrough++;
      return { image: frame.frame, width: frame.width, height: frame.height };
    }
  }
}
