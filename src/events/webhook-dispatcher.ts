// Sends webhook deliveries. Each webhook has its own lane of at most WEBHOOK_CONCURRENCY requests,
// each bounded by WEBHOOK_TIMEOUT_MS, so a slow or dead receiver only ever holds its own lane: the
// others' deliveries go out as usual. A failed attempt is retried after WEBHOOK_BACKOFF_MS, doubling
// (at most an hour), until WEBHOOK_RETRY_FOR_MS after its event; then the delivery is marked failed
// with its last error, which admins see on the webhook. Nothing here runs on the ingest path: the
// recorder only wakes the dispatcher after it has written new events (and their deliveries).
import { Coalesced } from '../lib/coalesced.js';
import type { Logger } from '../lib/log.js';
import type { EventView } from './model.js';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature } from './webhook-signing.js';
import type { Claimed, Target, WebhookRepository } from './webhook-repository.js';

export interface DispatcherOptions {
  timeoutMs: number;
  concurrency: number;
  backoffMs: number;
  retryForMs: number;
}

/** Deliveries that another instance wrote (or that are due later) are looked for at least this often. */
const POLL_MS = 2000;
const MAX_BACKOFF_MS = 3600_000;
const USER_AGENT = 'framestream-webhooks/1';
/** How much of a refusing receiver's answer is kept as the error (for the admin). */
const ERROR_BODY_BYTES = 200;

export function backoffMs(base: number, attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, base * 2 ** Math.min(attempt - 1, 30));
}

async function bodySnippet(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  try {
    const { value } = await reader.read();
    return value ? Buffer.from(value).subarray(0, ERROR_BODY_BYTES).toString('utf8').replace(/\s+/g, ' ').trim() : '';
  } catch {
    return '';
  } finally {
    void reader.cancel().catch(() => {});
  }
}

export class WebhookDispatcher {
  private readonly lanes = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private readonly poller = new Coalesced(() => this.poll());
  private closed = false;
  private failing = false;
  private readonly closing = new AbortController();
  private readonly inflight = new Set<Promise<void>>();
  readonly counters = { delivered: 0, retried: 0, failed: 0 };

  constructor(
    private readonly repo: WebhookRepository,
    private readonly loadEvent: (id: number) => Promise<EventView | null>,
    private readonly opts: DispatcherOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.wake();
  }

  /** Looks for due deliveries now (new events were written, or a lane freed up). */
  wake(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.poller.run();
  }

  /** Requests in flight, in all or one webhook's lane (metrics, tests). */
  sending(webhookId?: number): number {
    return webhookId === undefined ? this.inflight.size : (this.lanes.get(webhookId) ?? 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.closing.abort();
    await this.poller.idle();
    await Promise.allSettled([...this.inflight]);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.wake();
    }, Math.max(10, ms));
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    let next = POLL_MS;
    try {
      const now = Date.now();
      for (const t of await this.repo.targets()) {
        const free = this.opts.concurrency - (this.lanes.get(t.id) ?? 0);
        if (free <= 0) continue;
        const leaseUntil = now + this.opts.timeoutMs + 10_000;
        for (const d of await this.repo.claimDue(t.id, now, free, leaseUntil)) this.send(t, d);
      }
      // The next delivery that was not due yet when we claimed: one that was is in flight, waits
      // for a lane (a finished attempt wakes us) or is leased by another instance (POLL_MS finds it).
      const due = await this.repo.nextDue(now);
      if (due !== null) next = Math.min(POLL_MS, due - Date.now());
      if (this.failing) this.log.info({}, 'webhooks: database reachable again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.log.warn({ err: (err as Error).message }, 'webhooks: could not read deliveries; will retry');
      this.failing = true;
    }
    this.schedule(next);
  }

  private send(t: Target, d: Claimed): void {
    this.lanes.set(t.id, (this.lanes.get(t.id) ?? 0) + 1);
    const p = this.attempt(t, d)
      .catch((err) => this.log.warn({ err: (err as Error).message, webhook: t.id, delivery: d.id }, 'webhooks: could not record a delivery attempt'))
      .finally(() => {
        this.inflight.delete(p);
        const n = (this.lanes.get(t.id) ?? 1) - 1;
        if (n > 0) this.lanes.set(t.id, n);
        else this.lanes.delete(t.id);
        this.wake();
      });
    this.inflight.add(p);
  }

  private async attempt(t: Target, d: Claimed): Promise<void> {
    const event = await this.loadEvent(d.eventId);
    if (!event) {
      await this.repo.attemptFailed(d, t.id, 'the event no longer exists', null, Date.now(), null);
      this.counters.failed++;
      return;
    }
    const body = JSON.stringify({ type: 'event.new', delivery_id: d.id, webhook_id: t.id, event });
    const ts = Math.floor(Date.now() / 1000);
    let status: number | null = null;
    let error: string;
    // One controller per attempt, held here with its timer: on Node 20 a signal made with
    // AbortSignal.any([AbortSignal.timeout(ms), ...]) may be garbage-collected before it fires, and
    // then a receiver that never answers holds its lane for ever.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new DOMException(`no answer within ${this.opts.timeoutMs} ms`, 'TimeoutError')), this.opts.timeoutMs);
    const onClosing = () => abort.abort(this.closing.signal.reason);
    this.closing.signal.addEventListener('abort', onClosing, { once: true });
    if (this.closing.signal.aborted) onClosing(); // closed while the event was loading: the listener never fires
    try {
      const res = await fetch(t.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          [EVENT_HEADER]: 'event.new',
          [DELIVERY_HEADER]: String(d.id),
          [TIMESTAMP_HEADER]: String(ts),
          [SIGNATURE_HEADER]: signature(t.secret, ts, body),
        },
        body,
        redirect: 'manual',
        signal: abort.signal,
      });
      status = res.status;
      if (status >= 200 && status < 300) {
        void res.body?.cancel().catch(() => {});
        await this.repo.delivered(d, t.id, status, Date.now());
        this.counters.delivered++;
        return;
      }
      const snippet = await bodySnippet(res);
      error = `HTTP ${status}${snippet ? `: ${snippet}` : ''}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (this.closing.signal.aborted) error = 'interrupted by shutdown';
      else if (e.name === 'TimeoutError') error = `no answer within ${this.opts.timeoutMs} ms`;
      else error = e.cause?.code ?? e.cause?.message ?? e.message;
    } finally {
      clearTimeout(timer);
      this.closing.signal.removeEventListener('abort', onClosing);
    }
    const now = Date.now();
    const wait = backoffMs(this.opts.backoffMs, d.attempts + 1);
    const giveUp = !this.closing.signal.aborted && now + wait - d.createdAt > this.opts.retryForMs;
    await this.repo.attemptFailed(d, t.id, error, status, now, giveUp ? null : now + wait);
    if (giveUp) this.counters.failed++;
    else this.counters.retried++;
  }
}
