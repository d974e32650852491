// One live event stream (GET /events/stream, Server-Sent Events). Each message is one changed
// event, `id:` its change number. A client that reconnects sends the last one it got as
// Last-Event-ID (EventSource does this by itself) and first receives, from the database, every
// event of its sites changed since, then the live changes: nothing is lost across a reconnect, on
// whichever instance it lands. Live changes that arrive while it catches up wait in a bounded
// buffer; a client whose unsent bytes pass a limit is disconnected (its reconnect resumes it).
import type { ServerResponse } from 'node:http';
import type { Logger } from '../lib/log.js';
import type { FeedClient } from './feed.js';
import { eventView, type EventRow } from './model.js';
import type { EventsRepository } from './repository.js';

/** Unsent bytes a stream may hold before it is closed (it resumes on reconnect). */
export const STREAM_MAX_UNSENT_BYTES = 256 * 1024;
/** Live changes held while a client catches up; past this it catches up again from the database. */
const MAX_HELD = 1000;
const PAGE = 200;
const HEARTBEAT_MS = 15_000;
/** What EventSource waits before reconnecting. */
const RETRY_MS = 3000;

export interface StreamOptions {
  repo: EventsRepository;
  res: ServerResponse;
  /** Sites the client sees (null: every site). */
  sites: ReadonlySet<string> | null;
  /** The last change it has seen (Last-Event-ID); null: only changes from now on. */
  after: number | null;
  quietMs: number;
  log: Logger;
  onClose: () => void;
}

export class EventStream implements FeedClient {
  readonly sites: ReadonlySet<string> | null;
  /** Every change up to this number has been sent, or was not for this client. */
  private position = 0;
  private catchingUp = true;
  /** Live deliveries held while catching up (each as delivered), and how many rows they hold. */
  private held: EventRow[][] = [];
  private heldRows = 0;
  private overflowed = false;
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly o: StreamOptions) {
    this.sites = o.sites;
    o.res.on('close', () => this.end());
    o.res.on('error', () => this.end());
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Headers and the reconnect delay; then the backlog since `after`, then live. */
  async start(headers: Record<string, string | number | string[] | undefined>): Promise<void> {
    const { res } = this.o;
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no', // nginx: pass each message on at once
    });
    res.write(`retry: ${RETRY_MS}\n\n`);
    try {
      const last = await this.o.repo.lastChange();
      this.position = this.o.after === null ? last : Math.min(this.o.after, last);
      await this.catchUp();
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'event stream: could not read changes; closing (the client resumes)');
      this.end();
    }
  }

  deliver(rows: EventRow[]): void {
    if (this.closed) return;
    if (this.catchingUp) {
      if (this.heldRows + rows.length > MAX_HELD) this.overflowed = true;
      else {
        this.held.push(rows);
        this.heldRows += rows.length;
      }
      return;
    }
    this.send(rows);
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      this.held = [];
      this.heldRows = 0;
      this.overflowed = false;
      for (;;) {
        const rows = await this.o.repo.changesSince(this.position, PAGE);
        this.send(rows);
        if (this.closed || rows.length < PAGE) break;
        await this.drained();
      }
      if (this.closed || !this.overflowed) break;
    }
    if (this.closed) return;
    this.catchingUp = false;
    const held = this.held;
    this.held = [];
    for (const rows of held) this.send(rows);
  }

  /**
   * Sends the rows of its sites that are newer than what it has. Rows come in change order, each
   * event at most once a read, in its latest state: an event created after the client's position
   * before this read is new to it, whatever changed it since.
   */
  private send(rows: EventRow[]): void {
    const before = this.position;
    for (const r of rows) {
      const seq = Number(r.change_seq);
      if (seq <= this.position) continue; // already sent (in the backlog, or a newer state of it)
      this.position = seq;
      if (this.sites !== null && !this.sites.has(r.site)) continue;
      const type = Number(r.created_seq) > before ? 'new' : 'update';
      this.write(`id: ${seq}\ndata: ${JSON.stringify({ type, event: eventView(r, this.o.quietMs) })}\n\n`);
    }
  }

  private write(chunk: string): void {
    if (this.closed) return;
    const { res } = this.o;
    res.write(chunk);
    if (!this.catchingUp && res.writableLength > STREAM_MAX_UNSENT_BYTES) {
      this.o.log.debug({}, 'event stream: client too slow; closing (it resumes from Last-Event-ID)');
      this.end();
    }
  }

  private drained(): Promise<void> {
    const { res } = this.o;
    if (res.writableLength <= STREAM_MAX_UNSENT_BYTES || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    if (!this.o.res.writableEnded) this.o.res.end();
    this.o.onClose();
  }
}
