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
  private held: EventRow[] = [];
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
      if (this.held.length + rows.length > MAX_HELD) this.overflowed = true;
      else this.held.push(...rows);
      return;
    }
    for (const r of rows) this.send(r);
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      this.held = [];
      this.overflowed = false;
      for (;;) {
        const rows = await this.o.repo.changesSince(this.position, PAGE);
        for (const r of rows) {
          if (this.sites === null || this.sites.has(r.site)) this.send(r);
          else this.position = Math.max(this.position, Number(r.change_seq));
        }
        if (this.closed || rows.length < PAGE) break;
        await this.drained();
      }
      if (this.closed || !this.overflowed) break;
    }
    if (this.closed) return;
    this.catchingUp = false;
    const held = this.held;
    this.held = [];
    for (const r of held) this.send(r);
  }

  private send(r: EventRow): void {
    const seq = Number(r.change_seq);
    if (seq <= this.position) return; // already sent (in the backlog, or a newer state of it)
    const type = Number(r.created_seq) > this.position ? 'new' : 'update';
    this.position = seq;
    this.write(`id: ${seq}\ndata: ${JSON.stringify({ type, event: eventView(r, this.o.quietMs) })}\n\n`);
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
