// The fan-out hub (DESIGN.md §3): one channel per watched label, holding the newest frame of each of
// its cameras, its push viewers and the pull viewers waiting for a frame. The store is subscribed
// once per label however many viewers watch it; each frame's wire message is encoded once
// (wire.ts caches it on the frame) and the same buffer goes to every viewer. Viewers that asked for
// a rate cap or a preview are served by the channel's feeds (feed.ts), one per rendition.
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { StoredFrame } from '../frames/frame.js';
import type { FrameStore, LabelSubscription } from '../frames/store.js';
import { pushMessage, pushMessageFor } from '../frames/wire.js';
import { compareIds } from '../frames/keys.js';
import { Close, CloseReason } from '../errors.js';
import { ViewerSocket, type ViewerCounters, type ViewerLimits } from './viewer-socket.js';
import { limitKernelUnsent } from './tcp-tuning.js';
import { PreviewMaker, type PreviewSettings } from '../previews/maker.js';
import { Feed } from './feed.js';
import { CappedViewer } from './capped-viewer.js';
import type { ViewerOptions } from './viewer-options.js';

/** A pull viewer waiting for the next frame of one camera. */
export interface PullWaiter {
  deliver(frame: StoredFrame): void;
}

export class Channel {
  /** Newest frame of each camera of the label. */
  readonly latest = new Map<string, StoredFrame>();
  readonly pushViewers = new Set<ViewerSocket>();
  /** Full-rate push viewers that asked for the entry id in each header (`with_id`): a set of their own. */
  readonly pushIdViewers = new Set<ViewerSocket>();
  readonly pullWaiters = new Map<string, Set<PullWaiter>>();
  /** Open pull sockets by camera (closed when their camera is removed). */
  readonly pullViewers = new Map<string, Set<ViewerSocket>>();
  /** Feeds of capped and preview viewers, by rendition ('full' or the preview's width) and `with_id`. */
  readonly feeds = new Map<string, Feed>();
  refs = 0;
  subscription: LabelSubscription | null = null;
  ready: Promise<void> | null = null;

  constructor(readonly label: string) {}

  /** Applies a frame (from the snapshot or the store); false when it is not newer than what we have. */
  accept(frame: StoredFrame): boolean {
    const have = this.latest.get(frame.key);
    if (have && compareIds(frame.id, have.id) <= 0) return false;
    this.latest.set(frame.key, frame);
    return true;
  }
}

export class Hub {
  private readonly channels = new Map<string, Channel>();
  private readonly viewers = new Set<ViewerSocket>();
  readonly counters: ViewerCounters = { sent: 0, skipped: 0, stalled: 0 };
  /** Previews for every channel, made on demand. */
  readonly previews: PreviewMaker;
  private readonly tickTimer: NodeJS.Timeout;

  constructor(
    private readonly store: FrameStore,
    private readonly limits: ViewerLimits & { maxViewers: number; tcpNotsentLowat: number; previews: PreviewSettings },
    private readonly log: FastifyBaseLogger,
  ) {
    this.previews = new PreviewMaker(limits.previews);
    const every = Math.max(50, Math.min(1000, Math.floor(limits.stallMs / 4)));
    this.tickTimer = setInterval(() => {
      const now = Date.now();
      for (const v of this.viewers) v.tick(now);
    }, every);
    this.tickTimer.unref();
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Labels with a channel (metrics, leak checks). */
  get channelCount(): number {
    return this.channels.size;
  }

  /** Pull viewers waiting for a frame, all channels together (metrics, leak checks). */
  get pullWaiterCount(): number {
    let n = 0;
    for (const ch of this.channels.values()) for (const set of ch.pullWaiters.values()) n += set.size;
    return n;
  }

  /** Per-viewer backlog, for metrics and tests. */
  backlogs(): Array<ViewerSocket['backlog']> {
    return [...this.viewers].map((v) => v.backlog);
  }

  get full(): boolean {
    return this.viewers.size >= this.limits.maxViewers;
  }

  /** Wraps a socket in its bounded queue and counts it until it closes. */
  addViewer(ws: import('ws').WebSocket, socket: Socket): ViewerSocket {
    // Keep the kernel's queue short, so that what is unsent stays in the latest-wins queue.
    if (this.limits.tcpNotsentLowat > 0) limitKernelUnsent(socket, this.limits.tcpNotsentLowat);
    const v = new ViewerSocket(ws, socket, this.limits, this.counters);
    this.viewers.add(v);
    ws.once('close', () => this.viewers.delete(v));
    return v;
  }

  /** Joins the label's channel, subscribing to the store when it is the first. */
  async join(label: string): Promise<Channel> {
    let ch = this.channels.get(label);
    if (!ch) {
      const created = new Channel(label);
      ch = created;
      this.channels.set(label, created);
      created.ready = this.store.subscribe(label, (f) => this.onFrame(created, f), (key) => this.onRemoved(created, key)).then(
        (sub) => {
          created.subscription = sub;
          for (const f of sub.snapshot) created.accept(f);
          // Everyone left while we were subscribing.
          if (created.refs === 0) this.drop(created);
        },
        (err: unknown) => {
          this.drop(created);
          throw err;
        },
      );
    }
    ch.refs++;
    try {
      await ch.ready;
    } catch (err) {
      ch.refs--;
      throw err;
    }
    return ch;
  }

  leave(ch: Channel): void {
    ch.refs--;
    if (ch.refs === 0 && ch.subscription) this.drop(ch);
  }

  private drop(ch: Channel): void {
    if (this.channels.get(ch.label) === ch) this.channels.delete(ch.label);
    ch.subscription?.unsubscribe();
    ch.subscription = null;
    for (const feed of ch.feeds.values()) feed.close();
    ch.feeds.clear();
  }

  private onFrame(ch: Channel, frame: StoredFrame): void {
    if (!ch.accept(frame)) return;
    if (ch.pushViewers.size > 0) {
      const msg = pushMessage(frame);
      for (const v of ch.pushViewers) v.offer(frame.key, msg);
    }
    if (ch.pushIdViewers.size > 0) {
      const msg = pushMessageFor(frame, true);
      for (const v of ch.pushIdViewers) v.offer(frame.key, msg);
    }
    if (ch.feeds.size > 0) {
      for (const feed of ch.feeds.values()) feed.onFrame(frame);
    }
    const waiting = ch.pullWaiters.get(frame.key);
    if (waiting) {
      ch.pullWaiters.delete(frame.key);
      for (const w of waiting) w.deliver(frame);
    }
  }

  /**
   * A camera was removed: push viewers get a text message `{"removed": "<key>"}` (and no held frame
   * of it), its pull sockets are closed (1000, `Stream removed`).
   */
  private onRemoved(ch: Channel, key: string): void {
    ch.latest.delete(key);
    const notice = JSON.stringify({ removed: key });
    for (const v of ch.pushViewers) v.notice(key, notice);
    for (const v of ch.pushIdViewers) v.notice(key, notice);
    for (const feed of ch.feeds.values()) feed.forget(key, notice);
    for (const v of ch.pullViewers.get(key) ?? []) v.close(Close.NORMAL, CloseReason.STREAM_REMOVED);
  }

  /** Counts a pull socket of a camera until it closes. */
  addPull(ch: Channel, key: string, v: ViewerSocket): void {
    let set = ch.pullViewers.get(key);
    if (!set) ch.pullViewers.set(key, (set = new Set()));
    set.add(v);
    v.ws.once('close', () => {
      set.delete(v);
      if (set.size === 0 && ch.pullViewers.get(key) === set) ch.pullViewers.delete(key);
    });
  }

  /**
   * Sends the newest frame of every camera, then every new frame, to a push viewer; `withId`: the
   * header also carries the entry id.
   */
  startPush(ch: Channel, v: ViewerSocket, withId = false): void {
    for (const f of ch.latest.values()) v.offer(f.key, pushMessageFor(f, withId));
    (withId ? ch.pushIdViewers : ch.pushViewers).add(v);
  }

  stopPush(ch: Channel, v: ViewerSocket): void {
    ch.pushViewers.delete(v);
    ch.pushIdViewers.delete(v);
  }

  /**
   * Serves a push viewer that asked for a rate cap or a preview from the channel's feed of its
   * rendition, starting with the newest frame of every camera. Returns the function that stops it.
   */
  startFeed(ch: Channel, v: ViewerSocket, opts: ViewerOptions): () => void {
    const rendition = opts.rendition === 'preview' ? opts.previewWidth : 'full';
    const id = `${rendition}:${opts.withId}`;
    let feed = ch.feeds.get(id);
    if (!feed) ch.feeds.set(id, (feed = new Feed(ch.latest, rendition, this.previews, opts.withId)));
    const member = new CappedViewer(v, opts.maxFps === null ? 0 : 1000 / opts.maxFps);
    feed.add(member);
    const joined = feed;
    return () => {
      if (!joined.remove(member) && ch.feeds.get(id) === joined) ch.feeds.delete(id);
    };
  }

  /** Waits for the next frame of a camera (pull viewers with nothing new). */
  waitFor(ch: Channel, key: string, w: PullWaiter): void {
    let set = ch.pullWaiters.get(key);
    if (!set) ch.pullWaiters.set(key, (set = new Set()));
    set.add(w);
  }

  cancelWait(ch: Channel, key: string, w: PullWaiter): void {
    const set = ch.pullWaiters.get(key);
    if (!set) return;
    set.delete(w);
    if (set.size === 0) ch.pullWaiters.delete(key);
  }

  /** Closes every viewer (1001) and stops the timer: part of a graceful shutdown. */
  close(): void {
    clearInterval(this.tickTimer);
    for (const v of this.viewers) v.close(Close.GOING_AWAY, CloseReason.SHUTDOWN);
    for (const ch of [...this.channels.values()]) this.drop(ch);
    this.log.debug('hub closed');
  }
}
