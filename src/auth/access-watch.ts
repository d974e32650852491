// Keeps watching open sockets' right to stay open (Authenticator.watch): a socket is told when its
// session ends or its user is deactivated ('session'), or when the user's fresh record no longer
// allows what the socket does ('access': role or sites changed). Pushes (account events) say so at
// once; a periodic recheck (every recheckMs) of the sessions and users that have open sockets
// catches what a push could not tell (another process without Redis, such as the CLI on the same
// SQLite file, or a Redis subscription that was down).
import type { Logger } from '../lib/log.js';
import { principalOf, type Principal, type UserRecord } from './principal.js';

export type AccessLoss = 'session' | 'access';

interface Watch {
  principal: Principal;
  stillAllowed: (p: Principal) => boolean;
  onLost: (why: AccessLoss) => void;
  done: boolean;
}

export interface AccessWatchDeps {
  /** Which of these sessions are still live. */
  liveSessions(ids: string[]): Promise<Set<string>>;
  /** Fresh records of these users (the caller refreshes its own cache with them too). */
  loadUsers(ids: number[]): Promise<Map<number, UserRecord>>;
  recheckMs: number;
  log: Logger;
}

export class AccessWatch {
  private readonly bySession = new Map<string, Set<Watch>>();
  private readonly byUser = new Map<number, Set<Watch>>();
  private timer: NodeJS.Timeout | null = null;
  private rechecking: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly deps: AccessWatchDeps) {}

  /** Starts watching; `ended` is true when the session is already known to be over. */
  watch(principal: Principal, stillAllowed: (p: Principal) => boolean, onLost: (why: AccessLoss) => void, ended: boolean): () => void {
    const w: Watch = { principal, stillAllowed, onLost, done: false };
    if (this.closed) return () => {};
    addTo(this.bySession, principal.sessionId, w);
    addTo(this.byUser, principal.userId, w);
    this.ensureTimer();
    // The session may have ended between authenticate() and watch().
    if (ended) setImmediate(() => this.lose(w, 'session'));
    return () => this.unregister(w);
  }

  /** Open sockets being watched (metrics, tests). */
  get count(): number {
    let n = 0;
    for (const s of this.bySession.values()) n += s.size;
    return n;
  }

  /** A session ended: its sockets lose it now. */
  sessionEnded(sid: string): void {
    const ws = this.bySession.get(sid);
    if (ws) for (const w of [...ws]) this.lose(w, 'session');
  }

  /** Users changed: those with open sockets are looked up again and judged. */
  async usersChanged(ids: number[]): Promise<void> {
    const watched = ids.filter((id) => this.byUser.has(id));
    if (watched.length === 0) return;
    let fresh: Map<number, UserRecord>;
    try {
      fresh = await this.deps.loadUsers(watched);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'could not reload users after a change; the periodic recheck will retry');
      return;
    }
    for (const id of watched) this.judge(id, fresh.get(id) ?? null);
  }

  /**
   * The fallback to pushes: one batched lookup of the watched sessions and users. A database outage
   * closes nothing (the next recheck tries again).
   */
  recheck(): Promise<void> {
    this.rechecking ??= this.doRecheck().finally(() => {
      this.rechecking = null;
    });
    return this.rechecking;
  }

  private async doRecheck(): Promise<void> {
    const sids = [...this.bySession.keys()];
    const uids = [...this.byUser.keys()];
    if (sids.length === 0) return;
    let live: Set<string>;
    let users: Map<number, UserRecord>;
    try {
      [live, users] = await Promise.all([this.deps.liveSessions(sids), this.deps.loadUsers(uids)]);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'access recheck failed; will retry');
      return;
    }
    for (const sid of sids) {
      if (!live.has(sid)) {
        this.deps.log.debug({ sessionId: sid }, 'recheck: session ended');
        this.sessionEnded(sid);
      }
    }
    for (const uid of uids) this.judge(uid, users.get(uid) ?? null);
  }

  private judge(id: number, user: UserRecord | null): void {
    const ws = this.byUser.get(id);
    if (!ws) return;
    for (const w of [...ws]) {
      if (!user || !user.isActive) {
        this.lose(w, 'session');
        continue;
      }
      let ok = false;
      try {
        ok = w.stillAllowed(principalOf(user, w.principal.sessionId));
      } catch (err) {
        this.deps.log.warn({ err: (err as Error).message }, 'stillAllowed threw; closing the socket');
      }
      if (!ok) this.lose(w, 'access');
    }
  }

  private unregister(w: Watch): void {
    w.done = true;
    removeFrom(this.bySession, w.principal.sessionId, w);
    removeFrom(this.byUser, w.principal.userId, w);
    if (this.bySession.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private lose(w: Watch, why: AccessLoss): void {
    if (w.done) return;
    this.unregister(w);
    try {
      w.onLost(why);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'onLost threw');
    }
  }

  private ensureTimer(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.recheck(), this.deps.recheckMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.bySession.clear();
    this.byUser.clear();
  }
}

function addTo<K>(m: Map<K, Set<Watch>>, k: K, w: Watch): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(w);
}

function removeFrom<K>(m: Map<K, Set<Watch>>, k: K, w: Watch): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(w);
  if (s.size === 0) m.delete(k);
}
