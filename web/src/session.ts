// The logged-in session: its tokens, kept in localStorage so that a reload or a second tab stays
// logged in (README, "Where the viewer keeps tokens"). The access token is refreshed before it
// expires and once on a 401. Refresh tokens are single use and the service ends a session whose
// retired refresh token comes back, so tabs must not refresh with the same one: a refresh runs
// under a Web Lock shared by the tabs and first adopts a pair another tab already got.
import { ApiError, clock, request } from './api.js';

export type Role = 'admin' | 'model_manager' | 'user' | 'guest';

export interface SessionData {
  access_token: string;
  refresh_token: string;
  username: string;
  role: Role;
  user_id: number;
}

export type EndReason = 'ended' | 'logged_out' | { siteForbidden: string };

const STORAGE_KEY = 'framestream.session';
/** Refresh when less than this is left of the access token. */
const REFRESH_MARGIN_MS = 60_000;

function read(): SessionData | null {
  try {
    const v = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null') as SessionData | null;
    return v && typeof v.access_token === 'string' && typeof v.refresh_token === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** A JWT's iat and exp in ms (0 when they cannot be read). */
export function tokenTimes(token: string): { issued: number; expires: number } {
  try {
    const part = token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/');
    const payload = JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '='))) as { exp?: unknown; iat?: unknown };
    const expires = typeof payload.exp === 'number' ? payload.exp * 1000 : 0;
    const issued = typeof payload.iat === 'number' ? payload.iat * 1000 : 0;
    return { issued, expires };
  } catch {
    return { issued: 0, expires: 0 };
  }
}

/** How long before expiry to refresh: a minute, or a third of a short-lived token's life. */
function refreshMargin(token: string): number {
  const { issued, expires } = tokenTimes(token);
  return issued > 0 && expires > issued ? Math.min(REFRESH_MARGIN_MS, (expires - issued) / 3) : REFRESH_MARGIN_MS;
}

function withLock<T>(fn: () => Promise<T>): Promise<T> {
  // Web Locks exist in secure contexts (https, localhost); elsewhere a tab relies on re-reading storage.
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  return locks ? (locks.request('framestream-refresh', fn) as Promise<T>) : fn();
}

class Session {
  private data: SessionData | null = read();
  private refreshing: Promise<void> | null = null;
  private timer: number | null = null;
  private endListeners = new Set<(why: EndReason) => void>();

  constructor() {
    // Another tab logged in, refreshed or logged out.
    window.addEventListener('storage', (e) => {
      if (e.key !== STORAGE_KEY) return;
      const stored = read();
      const had = this.data;
      this.data = stored;
      if (!stored && had) this.notifyEnd('logged_out');
      else this.schedule();
    });
    this.schedule();
  }

  get user(): SessionData | null {
    return this.data;
  }

  onEnd(fn: (why: EndReason) => void): void {
    this.endListeners.add(fn);
  }

  async login(username: string, password: string): Promise<void> {
    const r = await request<SessionData>('POST', '/login', { body: { username, password } });
    this.save({ access_token: r.access_token, refresh_token: r.refresh_token, username: r.username, role: r.role, user_id: r.user_id });
  }

  /** An access token good for a while yet (refreshed first when it is about to expire). */
  async accessToken(): Promise<string> {
    if (!this.data) throw new ApiError(401, 'MISSING_TOKEN', 'not logged in');
    const token = this.data.access_token;
    if (tokenTimes(token).expires - clock.serverNow() < refreshMargin(token) / 2) await this.refresh();
    if (!this.data) throw new ApiError(401, 'MISSING_TOKEN', 'not logged in');
    return this.data.access_token;
  }

  /** After a 401 with `used`: refresh once (unless that already happened), else the session is over. */
  async recover(used: string): Promise<void> {
    if (this.data && this.data.access_token !== used) return;
    await this.refresh();
  }

  refresh(): Promise<void> {
    this.refreshing ??= withLock(async () => {
      const mine = this.data;
      if (!mine) throw new ApiError(401, 'MISSING_TOKEN', 'not logged in');
      const stored = read();
      if (!stored) {
        this.end('ended');
        throw new ApiError(401, 'TOKEN_NOT_ACTIVE', 'logged out');
      }
      if (stored.refresh_token !== mine.refresh_token) {
        this.data = stored; // another tab refreshed first
        this.schedule();
        return;
      }
      try {
        const pair = await request<{ access_token: string; refresh_token: string }>('POST', '/refresh', { body: { refresh_token: mine.refresh_token } });
        this.save({ ...mine, access_token: pair.access_token, refresh_token: pair.refresh_token });
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) this.end('ended');
        throw err;
      }
    }).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** Ends the session on the service (best effort) and here. */
  async logout(why: EndReason = 'logged_out'): Promise<void> {
    const d = this.data;
    this.clear();
    if (d) await request('POST', '/logout', { token: d.access_token }).catch(() => {});
    this.notifyEnd(why);
  }

  /** The service says the session is over (401 after a refresh, a 1008 close). */
  end(why: EndReason): void {
    if (!this.data) return;
    this.clear();
    this.notifyEnd(why);
  }

  private notifyEnd(why: EndReason): void {
    for (const fn of this.endListeners) fn(why);
  }

  private save(d: SessionData): void {
    this.data = d;
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(d));
    } catch {
      /* storage full or disabled: the session lasts for this page */
    }
    this.schedule();
  }

  private clear(): void {
    this.data = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    try {
      localStorage.removeItem(STORAGE_KEY);
    } catch {
      /* nothing kept */
    }
  }

  /** Refreshes ahead of expiry, at a random point of the margin so that tabs rarely collide. */
  private schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (!this.data) return;
    const token = this.data.access_token;
    const left = tokenTimes(token).expires - clock.serverNow();
    const wait = Math.max(1000, left - refreshMargin(token) * (0.5 + Math.random() * 0.5));
    this.timer = window.setTimeout(() => {
      this.refresh().catch((err: unknown) => {
        // Unreachable: try again soon; a 401 already ended the session.
        if (err instanceof ApiError && err.status !== 401 && this.data) this.timer = window.setTimeout(() => this.schedule(), 10_000);
      });
    }, Math.min(wait, 2 ** 31 - 1));
  }
}

export const session = new Session();

/** An authenticated API request: refreshes once on a 401, then gives up (the session ends). */
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const token = await session.accessToken();
  try {
    return await request<T>(method, path, { body, token });
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
    await session.recover(token);
    return request<T>(method, path, { body, token: await session.accessToken() }).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 401) session.end('ended');
      throw e;
    });
  }
}
