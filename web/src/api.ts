// Requests to the service's HTTP API. Every failure becomes an ApiError with the API's stable
// code ({"detail","code"}), or UNREACHABLE when no answer came at all.
import { ServerClock } from './server-clock.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    /** Seconds from Retry-After on a 429. */
    readonly retryAfter: number | null = null,
  ) {
    super(detail);
  }

  get unreachable(): boolean {
    return this.status === 0;
  }
}

/** The service's clock, learnt from every reply's Date header and every frame's time. */
export const clock = new ServerClock();

export interface RequestOptions {
  body?: unknown;
  token?: string | null;
}

export async function request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'UNREACHABLE', 'server unreachable');
  }
  clock.observeDateHeader(res.headers.get('date'));
  const text = await res.text().catch(() => '');
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!res.ok) {
    const b = (body ?? {}) as { code?: unknown; detail?: unknown };
    const retry = Number(res.headers.get('retry-after'));
    throw new ApiError(
      res.status,
      typeof b.code === 'string' ? b.code : `HTTP_${res.status}`,
      typeof b.detail === 'string' ? b.detail : res.statusText,
      Number.isFinite(retry) && retry > 0 ? retry : null,
    );
  }
  return body as T;
}
