// SQL of the outgoing webhooks and their deliveries. A delivery row is written in the same
// transaction as its new event (an outbox: nothing is lost if the process dies before sending), and
// any instance may send it: a sender takes it with a lease (a conditional update), so two
// instances never send one delivery at once, and a crashed sender's lease runs out.
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { AccountsDb, WebhookDeliveriesTable } from '../db/schema.js';
import { chunks } from '../lib/chunks.js';

type Db = Kysely<AccountsDb> | Transaction<AccountsDb>;

export interface WebhookView {
  id: number;
  url: string;
  sites: string[];
  enabled: boolean;
  created_at: string;
  updated_at: string;
  last_success_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
  deliveries: { pending: number; delivered: number; failed: number };
}

export interface DeliveryView {
  id: number;
  event_id: number;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  created_at: string;
  next_attempt_at: string | null;
  finished_at: string | null;
  last_status: number | null;
  last_error: string | null;
}

/** What the dispatcher needs of a webhook. */
export interface Target {
  id: number;
  url: string;
  secret: string;
}

export interface Claimed {
  id: number;
  eventId: number;
  attempts: number;
  createdAt: number;
}

export interface WebhookInput {
  url: string;
  sites: string[];
  secret: string;
  enabled: boolean;
}

const iso = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
const MAX_ERROR_LENGTH = 1000;
const clip = (s: string) => (s.length > MAX_ERROR_LENGTH ? s.slice(0, MAX_ERROR_LENGTH) : s);

export function parseSites(json: string): string[] {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
  } catch {
    return [];
  }
}

/** Queues a delivery of each new event to every enabled webhook for its site; returns how many. */
export async function enqueueDeliveries(trx: Db, events: Array<{ id: number; site: string }>, now: number): Promise<number> {
  const hooks = await trx.selectFrom('webhooks').select(['id', 'sites']).where('enabled', '=', 1).execute();
  const rows = [];
  for (const h of hooks) {
    const sites = new Set(parseSites(h.sites));
    for (const e of events) {
      if (sites.size > 0 && !sites.has(e.site)) continue;
      rows.push({ webhook_id: Number(h.id), event_id: e.id, status: 'pending' as const, attempts: 0, created_at: now, next_attempt_at: now });
    }
  }
  for (const part of chunks(rows, 200)) await trx.insertInto('webhook_deliveries').values(part).execute();
  return rows.length;
}

function deliveryView(r: Selectable<WebhookDeliveriesTable>): DeliveryView {
  return {
    id: Number(r.id),
    event_id: Number(r.event_id),
    status: r.status,
    attempts: Number(r.attempts),
    created_at: iso(r.created_at)!,
    next_attempt_at: r.status === 'pending' ? iso(r.next_attempt_at) : null,
    finished_at: iso(r.finished_at),
    last_status: r.last_status === null ? null : Number(r.last_status),
    last_error: r.last_error,
  };
}

export class WebhookRepository {
  constructor(readonly db: Kysely<AccountsDb>) {}

  // ---------------------------------------------------------------- management

  async list(ids?: number[]): Promise<WebhookView[]> {
    let q = this.db.selectFrom('webhooks').selectAll().orderBy('id');
    if (ids) q = q.where('id', 'in', ids);
    const hooks = await q.execute();
    if (hooks.length === 0) return [];
    let cq = this.db
      .selectFrom('webhook_deliveries')
      .select((eb) => ['webhook_id', 'status', eb.fn.countAll().as('n')])
      .groupBy(['webhook_id', 'status']);
    if (ids) cq = cq.where('webhook_id', 'in', ids);
    const counts = new Map<number, WebhookView['deliveries']>();
    for (const c of await cq.execute()) {
      const id = Number(c.webhook_id);
      const d = counts.get(id) ?? { pending: 0, delivered: 0, failed: 0 };
      d[c.status] = Number(c.n);
      counts.set(id, d);
    }
    return hooks.map((h) => ({
      id: Number(h.id),
      url: h.url,
      sites: parseSites(h.sites),
      enabled: Number(h.enabled) === 1,
      created_at: iso(h.created_at)!,
      updated_at: iso(h.updated_at)!,
      last_success_at: iso(h.last_success_at),
      last_error: h.last_error,
      last_error_at: iso(h.last_error_at),
      deliveries: counts.get(Number(h.id)) ?? { pending: 0, delivered: 0, failed: 0 },
    }));
  }

  async get(id: number): Promise<WebhookView | undefined> {
    return (await this.list([id]))[0];
  }

  async create(w: WebhookInput): Promise<number> {
    const now = Date.now();
    const r = await this.db
      .insertInto('webhooks')
      .values({ url: w.url, sites: JSON.stringify(w.sites), secret: w.secret, enabled: w.enabled ? 1 : 0, created_at: now, updated_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(r.id);
  }

  async update(id: number, w: Partial<WebhookInput>): Promise<boolean> {
    const r = await this.db
      .updateTable('webhooks')
      .set({
        ...(w.url !== undefined ? { url: w.url } : {}),
        ...(w.sites !== undefined ? { sites: JSON.stringify(w.sites) } : {}),
        ...(w.secret !== undefined ? { secret: w.secret } : {}),
        ...(w.enabled !== undefined ? { enabled: w.enabled ? 1 : 0 } : {}),
        updated_at: Date.now(),
      })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async delete(id: number): Promise<boolean> {
    const r = await this.db.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async deliveries(webhookId: number, status: DeliveryView['status'] | undefined, limit: number): Promise<DeliveryView[]> {
    let q = this.db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId);
    if (status) q = q.where('status', '=', status);
    return (await q.orderBy('id', 'desc').limit(limit).execute()).map(deliveryView);
  }

  // ---------------------------------------------------------------- the dispatcher's

  async targets(): Promise<Target[]> {
    const rows = await this.db.selectFrom('webhooks').select(['id', 'url', 'secret']).where('enabled', '=', 1).orderBy('id').execute();
    return rows.map((r) => ({ id: Number(r.id), url: r.url, secret: r.secret }));
  }

  /** Takes up to `n` due deliveries of a webhook, leased until `leaseUntil`. */
  async claimDue(webhookId: number, now: number, n: number, leaseUntil: number): Promise<Claimed[]> {
    const due = await this.db
      .selectFrom('webhook_deliveries')
      .select(['id', 'event_id', 'attempts', 'created_at'])
      .where('webhook_id', '=', webhookId)
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(n)
      .execute();
    const out: Claimed[] = [];
    for (const d of due) {
      const r = await this.db
        .updateTable('webhook_deliveries')
        .set({ lease_until: leaseUntil })
        .where('id', '=', d.id)
        .where('status', '=', 'pending')
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) out.push({ id: Number(d.id), eventId: Number(d.event_id), attempts: Number(d.attempts), createdAt: Number(d.created_at) });
    }
    return out;
  }

  /** When the earliest pending delivery due after `after` is due (epoch ms), or null. */
  async nextDue(after: number): Promise<number | null> {
    const r = await this.db
      .selectFrom('webhook_deliveries')
      .select((eb) => eb.fn.min('next_attempt_at').as('t'))
      .where('status', '=', 'pending')
      .where('next_attempt_at', '>', after)
      .executeTakeFirst();
    return r?.t === null || r?.t === undefined ? null : Number(r.t);
  }

  async delivered(d: Claimed, webhookId: number, status: number, now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('webhook_deliveries')
        .set({ status: 'delivered', attempts: d.attempts + 1, lease_until: null, last_status: status, finished_at: now })
        .where('id', '=', d.id)
        .execute();
      await trx.updateTable('webhooks').set({ last_success_at: now }).where('id', '=', webhookId).execute();
    });
  }

  /** A failed attempt: retried at `retryAt`, or, when null, given up (status failed). */
  async attemptFailed(d: Claimed, webhookId: number, error: string, status: number | null, now: number, retryAt: number | null): Promise<void> {
    const err = clip(error);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('webhook_deliveries')
        .set({
          attempts: d.attempts + 1,
          lease_until: null,
          last_error: err,
          last_status: status,
          ...(retryAt === null ? { status: 'failed' as const, finished_at: now } : { next_attempt_at: retryAt }),
        })
        .where('id', '=', d.id)
        .execute();
      await trx.updateTable('webhooks').set({ last_error: err, last_error_at: now }).where('id', '=', webhookId).execute();
    });
  }
}
