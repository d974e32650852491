// A viewer socket that reconnects by itself: exponential backoff with jitter on drops, restarts
// and 1013 (try again later); a 1008 (token or site refused) is final, after one retry with a
// refreshed token when the token itself was refused.
import { ApiError } from './api.js';
import { backoffDelay } from './backoff.js';
import { session } from './session.js';

export type SocketState =
  | { kind: 'connecting' }
  | { kind: 'open' }
  /** `opened`: whether the socket that closed had opened (a refusal before the upgrade never does). */
  | { kind: 'retrying'; at: number; code: number; opened: boolean };

export interface SocketHandlers {
  onOpen?(ws: WebSocket): void;
  onMessage(data: ArrayBuffer | string): void;
  onState(state: SocketState): void;
  /** Refused for good (1008): the reason the service gave. */
  onRefused(reason: string): void;
}

/** A connection that stays up this long counts as healthy: the next drop starts the backoff again. */
const HEALTHY_AFTER_MS = 5000;
/** A socket that neither opens nor fails in this time is given up and retried. */
const OPEN_TIMEOUT_MS = 10_000;

export function socketUrl(path: string, token: string): string {
  const u = new URL(path, location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  u.searchParams.set('token', token);
  return u.toString();
}

export class ReconnectingSocket {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private retryTimer: number | null = null;
  private openTimer: number | null = null;
  private healthyTimer: number | null = null;
  private stopped = false;
  private triedRefresh = false;
  private opened = false;

  /** `path`: e.g. /ws/labels/north?wait=true (the token is added). */
  constructor(private path: string, private readonly handlers: SocketHandlers) {}

  get currentPath(): string {
    return this.path;
  }

  /** Asks for something else (other query parameters): reconnects at once when the path changed. */
  setPath(path: string): void {
    if (path === this.path) return;
    this.path = path;
    if (this.stopped) return;
    this.drop();
    this.attempt = 0;
    void this.connect();
  }

  start(): void {
    void this.connect();
  }

  send(data: string): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  close(): void {
    this.stopped = true;
    this.drop();
  }

  /** Closes the socket (if any) without hearing of it: no retry follows. */
  private drop(): void {
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onopen = ws.onerror = null;
      ws.close(1000);
    }
  }

  private clearTimers(): void {
    for (const t of [this.retryTimer, this.openTimer, this.healthyTimer]) if (t !== null) clearTimeout(t);
    this.retryTimer = this.openTimer = this.healthyTimer = null;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.handlers.onState({ kind: 'connecting' });
    let token: string;
    try {
      token = await session.accessToken();
    } catch (err) {
      if (this.stopped) return;
      // A refused refresh has ended the session (the app shows the login page); anything else: retry.
      if (err instanceof ApiError && err.status === 401) return;
      this.opened = false;
      this.retry(0);
      return;
    }
    if (this.stopped) return;
    if (this.ws) return; // setPath() connected meanwhile
    const ws = new WebSocket(socketUrl(this.path, token));
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.opened = false;
    this.openTimer = window.setTimeout(() => ws.close(), OPEN_TIMEOUT_MS);
    ws.onopen = () => {
      if (this.openTimer !== null) clearTimeout(this.openTimer);
      this.opened = true;
      this.handlers.onState({ kind: 'open' });
      this.healthyTimer = window.setTimeout(() => {
        this.attempt = 0;
        this.triedRefresh = false;
      }, HEALTHY_AFTER_MS);
      this.handlers.onOpen?.(ws);
    };
    ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => this.handlers.onMessage(ev.data);
    ws.onclose = (ev) => this.closed(ws, ev.code, ev.reason);
  }

  private closed(ws: WebSocket, code: number, reason: string): void {
    if (this.ws !== ws || this.stopped) return;
    this.ws = null;
    this.clearTimers();
    if (code === 1008) {
      // An expired or unknown token may only need a refresh; an ended session or a forbidden site is final.
      if (reason === 'Invalid token' && !this.triedRefresh) {
        this.triedRefresh = true;
        void session
          .refresh()
          .then(() => this.connect())
          .catch((err: unknown) => {
            if (!(err instanceof ApiError && err.status === 401)) this.retry(code);
          });
        return;
      }
      this.handlers.onRefused(reason);
      return;
    }
    this.retry(code);
  }

  private retry(code: number): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++);
    this.handlers.onState({ kind: 'retrying', at: Date.now() + delay, code, opened: this.opened });
    this.retryTimer = window.setTimeout(() => void this.connect(), delay);
  }
}
