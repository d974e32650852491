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
