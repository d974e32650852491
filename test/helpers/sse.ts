// A Server-Sent Events client for tests: a real HTTP request (node:http), the stream parsed into
// messages ({ id, data }) as EventSource would, and a way to wait for what arrives.
import http from 'node:http';

export interface SseMessage {
  id: string | null;
  event: string | null;
  data: any;
}

export class SseClient {
  readonly messages: SseMessage[] = [];
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  body = '';
  ended = false;
  private buf = '';
  private req: http.ClientRequest | null = null;
  private waiters: Array<() => void> = [];

  /** Opens `path` on `baseUrl`; resolves once the response headers have arrived. */
  static open(baseUrl: string, path: string, opts: { token?: string; via?: 'header' | 'query'; lastEventId?: string } = {}): Promise<SseClient> {
    const c = new SseClient();
    const u = new URL(path, baseUrl);
    if (opts.token && opts.via === 'query') u.searchParams.set('token', opts.token);
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (opts.token && opts.via !== 'query') headers.authorization = `Bearer ${opts.token}`;
    if (opts.lastEventId !== undefined) headers['last-event-id'] = opts.lastEventId;
    return new Promise((resolve, reject) => {
      c.req = http.get(u, { headers }, (res) => {
        c.status = res.statusCode ?? 0;
        c.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => c.take(chunk));
        res.on('end', () => {
          c.ended = true;
          c.wake();
        });
        res.on('error', () => {});
        resolve(c);
      });
      c.req.on('error', (err) => {
        c.ended = true;
        c.wake();
        reject(err);
      });
    });
  }

  private take(chunk: string): void {
    if (this.status !== 200) {
      this.body += chunk;
      return;
    }
    this.buf += chunk;
    let i: number;
    while ((i = this.buf.indexOf('\n\n')) >= 0) {
      const block = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      let id: string | null = null;
      let event: string | null = null;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0) this.messages.push({ id, event, data: JSON.parse(data.join('\n')) });
    }
    this.wake();
  }

  /** The JSON body of a refused request. */
  json(): any {
    return this.body ? JSON.parse(this.body) : null;
  }

  /** The id of the last message received (what EventSource sends back as Last-Event-ID). */
  get lastId(): string | null {
    for (let i = this.messages.length - 1; i >= 0; i--) if (this.messages[i]!.id !== null) return this.messages[i]!.id;
    return null;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  async until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}: status=${this.status} messages=${JSON.stringify(this.messages.map((m) => [m.id, m.data?.type, m.data?.event?.id]))} ended=${this.ended}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.req?.destroy();
  }
}
