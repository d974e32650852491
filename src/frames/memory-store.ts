// The embedded frame store: the newest frame of each camera, in this process's memory.
// Bounded: one frame per camera, at most `maxStreams` cameras and `maxBytes` of frames (the least
// recently updated camera is forgotten first); a camera idle for `idleMs` is forgotten.
import { storedFrame, type FrameFields, type StoredFrame } from './frame.js';
import type { FrameListener, FrameStore, LabelSubscription, RemovalListener } from './store.js';

interface Options {
  maxStreams: number;
  maxBytes: number;
  idleMs: number;
  now?: () => number;
}

function sizeOf(f: StoredFrame): number {
  return f.frame.length + f.warnings.length + f.conePolygons.length + f.polePolygons.length + f.detectionItems.length;
}

export class MemoryFrameStore implements FrameStore {
  readonly kind = 'memory' as const;
  /** label -> key -> newest frame. Map order per label is insertion; `recency` orders eviction. */
  private readonly streams = new Map<string, Map<string, StoredFrame>>();
  /** "label\0key" in least-recently-updated-first order (a Map re-inserted on every update). */
  private readonly recency = new Map<string, { label: string; key: string }>();
  private readonly listeners = new Map<string, Set<{ frame: FrameListener; removed?: RemovalListener }>>();
  private bytes = 0;
  private lastMs = 0;
  private seq = 0;
  private readonly now: () => number;

  constructor(private readonly opts: Options) {
    this.now = opts.now ?? Date.now;
  }

  private nextId(): string {
    const ms = this.now();
    if (ms > this.lastMs) {
      this.lastMs = ms;
      this.seq = 0;
    } else {
      this.seq++;
    }
    return `${this.lastMs}-${this.seq}`;
  }

  async append(label: string, key: string, fields: FrameFields): Promise<string> {
    const frame = storedFrame(label, key, this.nextId(), fields);
    let cams = this.streams.get(label);
    if (!cams) this.streams.set(label, (cams = new Map()));
    const previous = cams.get(key);
    if (previous) this.bytes -= sizeOf(previous);
    cams.set(key, frame);
    this.bytes += sizeOf(frame);
    const rk = `${label}\0${key}`;
    this.recency.delete(rk);
    this.recency.set(rk, { label, key });
    // Over a limit: forget the least recently updated cameras, never the one just written.
    while (this.recency.size > 1 && (this.recency.size > this.opts.maxStreams || this.bytes > this.opts.maxBytes)) {
      const [oldest] = this.recency.values();
      this.forget(oldest!.label, oldest!.key);
    }
    const subs = this.listeners.get(label);
    if (subs) for (const l of subs) l.frame(frame);
    return frame.id;
  }

  private forget(label: string, key: string): void {
    this.recency.delete(`${label}\0${key}`);
    const cams = this.streams.get(label);
    const frame = cams?.get(key);
    if (!cams || !frame) return;
    this.bytes -= sizeOf(frame);
    cams.delete(key);
    if (cams.size === 0) this.streams.delete(label);
  }

  /** Drops cameras idle past the limit. Cheap: walks from the least recently updated. */
  private expire(): void {
    const cutoff = this.now() - this.opts.idleMs;
    for (const { label, key } of this.recency.values()) {
      const f = this.streams.get(label)?.get(key);
      if (f && Number(f.id.slice(0, f.id.indexOf('-'))) > cutoff) break;
      this.forget(label, key);
    }
  }

  async latest(label: string, key: string): Promise<StoredFrame | null> {
    this.expire();
    return this.streams.get(label)?.get(key) ?? null;
  }

  async labels(): Promise<string[]> {
    this.expire();
    return [...this.streams.keys()].sort();
  }

  async keys(label: string): Promise<string[]> {
    this.expire();
    return [...(this.streams.get(label)?.keys() ?? [])].sort();
  }

  async subscribe(label: string, listener: FrameListener, onRemoved?: RemovalListener): Promise<LabelSubscription> {
    this.expire();
    // Snapshot and registration happen in the same tick, so no frame falls between them.
    const snapshot = [...(this.streams.get(label)?.values() ?? [])];
    let subs = this.listeners.get(label);
    if (!subs) this.listeners.set(label, (subs = new Set()));
    const entry = { frame: listener, removed: onRemoved };
    subs.add(entry);
    return {
      snapshot,
      unsubscribe: () => {
        subs.delete(entry);
        if (subs.size === 0 && this.listeners.get(label) === subs) this.listeners.delete(label);
      },
    };
  }

  async remove(label: string, key: string): Promise<boolean> {
    if (!this.streams.get(label)?.has(key)) return false;
    this.forget(label, key);
    for (const l of this.listeners.get(label) ?? []) l.removed?.(key);
    return true;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
