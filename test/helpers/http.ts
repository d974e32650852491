// Plain HTTP calls to a running service, and waiting for something to become true.
export interface Reply {
  status: number;
  body: any;
  headers: Headers;
  ms: number;
}

/** A JSON request to the server (token as Bearer when given). */
export async function call(url: string, method: string, route: string, opts: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const t0 = performance.now();
  const res = await fetch(url + route, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  const ms = performance.now() - t0;
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, headers: res.headers, ms };
}

/** The payload of a JWT, without checking it (to build refused-token cases from a real session). */
export function payloadOf(token: string): any {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

export async function eventually(cond: () => boolean | Promise<boolean>, ms = 2000, what = 'condition'): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}

/** A raw TCP connection to a service, for what fetch cannot do (trickled bytes, other source addresses). */
export interface RawConnection {
  socket: import('node:net').Socket;
  /** Everything received so far, as latin1 text. */
  received(): string;
  /** Resolves once connected. */
  connected: Promise<void>;
  /** Resolves with the ms from opening to the connection's close. */
  closed: Promise<number>;
  isClosed(): boolean;
}

export async function rawConnection(url: string, opts: { localAddress?: string } = {}): Promise<RawConnection> {
  const net = await import('node:net');
  const u = new URL(url);
  const t0 = Date.now();
  const socket = net.connect({ host: u.hostname, port: Number(u.port), ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  let data = '';
  let closed = false;
  socket.on('data', (d) => (data += d.toString('latin1')));
  socket.on('error', () => {});
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('close', () => reject(new Error('closed before connecting')));
  });
  connected.catch(() => {});
  const closedP = new Promise<number>((resolve) => socket.once('close', () => ((closed = true), resolve(Date.now() - t0))));
  return { socket, received: () => data, connected, closed: closedP, isClosed: () => closed };
}
