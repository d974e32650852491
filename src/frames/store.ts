// The one interface between the service and where frames live (DESIGN.md §3).
// Implementations: memory-store.ts (the embedded default) and redis-store.ts (REDIS_URL).
import type { FrameFields, StoredFrame } from './frame.js';

export type FrameListener = (frame: StoredFrame) => void;
/** A camera of the label was removed (DELETE /streams, or its stream deleted in Redis). */
export type RemovalListener = (key: string) => void;

export interface LabelSubscription {
  /** The newest frame of every camera the label had when the subscription started. */
  snapshot: StoredFrame[];
  unsubscribe(): void;
}

export interface FrameStore {
  readonly kind: 'memory' | 'redis';
  /** Stores a frame; resolves with its entry id once it is durable in the store. */
  append(label: string, key: string, fields: FrameFields): Promise<string>;
  /** The newest frame of one camera, or null. */
  latest(label: string, key: string): Promise<StoredFrame | null>;
  /** Labels with at least one camera that sent a frame within the idle time, sorted. */
  labels(): Promise<string[]>;
  /** Cameras of a label (same idle rule), sorted. */
  keys(label: string): Promise<string[]>;
  /**
   * Calls `listener` once for every frame appended to any camera of `label` after the subscription
   * started, in entry order per camera, including cameras that appear later. Frames in `snapshot`
   * are not passed to the listener again.
   */
  subscribe(label: string, listener: FrameListener, onRemoved?: RemovalListener): Promise<LabelSubscription>;
  /**
   * Removes a camera (its stream and its newest frame) from the store, for every instance; its
   * label's subscribers are told. False when there was no such camera.
   */
  remove(label: string, key: string): Promise<boolean>;
  /** Resolves when the store can serve requests (Redis reachable); rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
