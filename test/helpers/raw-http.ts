// HTTP over a plain TCP socket (node:net), for requests fetch cannot make: bad framing, huge headers,
// Expect: 100-continue, a client that writes its whole body before reading.
import net from 'node:net';

export interface RawResponse {
  /** Status of the final response (0: none came). */
  status: number;
  headers: Record<string, string>;
  /** The body, parsed as JSON when it is JSON. */
  body: any;
  /** An interim `100 Continue` came before the final response. */
  continued: boolean;
  /** The socket failed (EPIPE, ECONNRESET) before a response was read. */
  error: string | null;
  /** With `awaitClose`: the server closed the connection after its response. */
  closedByServer?: boolean;
}

function parse(bytes: Buffer): { res: RawResponse; complete: boolean } {
  const res: RawResponse = { status: 0, headers: {}, body: null, continued: false, error: null };
  let text = bytes.toString('latin1');
  while (text.startsWith('HTTP/1.1 100')) {
    res.continued = true;
    const end = text.indexOf('\r\n\r\n');
    text = end < 0 ? '' : text.slice(end + 4);
  }
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) return { res, complete: false };
  const [statusLine, ...lines] = text.slice(0, headEnd).split('\r\n');
  res.status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1] ?? 0);
  for (const l of lines) {
    const i = l.indexOf(':');
    res.headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const bodyText = Buffer.from(text.slice(headEnd + 4), 'latin1').toString('utf8');
  const length = Number(res.headers['content-length'] ?? NaN);
  try {
    res.body = JSON.parse(bodyText);
  } catch {
    res.body = bodyText;
  }
  return { res, complete: Number.isNaN(length) || Buffer.byteLength(bodyText) >= length };
}

export interface RawOptions {
  /** Bytes of filler body written after `data`, all of it before reading anything (as Python requests does). */
  thenBody?: number;
  /** Wait at most this long for the response. */
  timeoutMs?: number;
  /** After the response, wait (as long) for the server to close the connection. */
  awaitClose?: boolean;
}

/** Writes `data` (and a filler body), then reads one response. */
export function rawRequest(baseUrl: string, data: string | Buffer, opts: RawOptions = {}): Promise<RawResponse> {
  const u = new URL(baseUrl);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    let reading = false;
    let settled = false;
    let error: string | null = null;
    let responded = false;
    const finish = (closed = false) => {
      if (settled) return;
      if (opts.awaitClose && responded && !closed) return;
      settled = true;
      clearTimeout(timer);
      for (let d = s.read() as Buffer | null; d !== null; d = s.read() as Buffer | null) chunks.push(d); // what came while we were still writing
      const { res } = parse(Buffer.concat(chunks));
      res.error = res.status === 0 ? error : null;
      if (opts.awaitClose) res.closedByServer = closed;
      s.destroy();
      resolve(res);
    };
    const timer = setTimeout(() => {
      responded = false; // give up waiting
      finish();
    }, opts.timeoutMs ?? 5000);
    const read = () => {
      reading = true;
      s.on('data', (d: Buffer) => {
        chunks.push(d);
        const { res, complete } = parse(Buffer.concat(chunks));
        if (res.status > 0 && complete) {
          responded = true;
          finish();
        }
      });
    };
    s.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
      finish();
    });
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.once('connect', async () => {
      s.write(data);
      if (!opts.thenBody) return read();
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      for (let sent = 0; sent < opts.thenBody && !settled; sent += chunk.length) {
        const n = Math.min(chunk.length, opts.thenBody - sent);
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) await new Promise((r) => { s.once('drain', r); s.once('close', r); });
      }
      if (!settled && !reading) read();
    });
  });
}

/** The head of a request: request line and headers (a Host is added unless given). */
export function head(method: string, path: string, headers: Record<string, string | number> = {}): string {
  const all = { host: 'localhost', ...headers };
  return `${method} ${path} HTTP/1.1\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
}
