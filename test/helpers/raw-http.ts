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
  /** The socket failed (EPIPE, ECONNRESET): a client that writes its whole body first sees only this. */
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
      res.error = error;
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

/**
 * A WebSocket client that writes one binary message of `size` bytes whole before reading anything
 * (as a blocking client does), then reads until the server closes. Resolves to the close code the
 * server sent, or the socket error the writer got instead (a reset: what a client sees as 1006).
 */
export function wsSendWholeThenRead(baseUrl: string, path: string, token: string, size: number): Promise<{ closeCode: number | null; error: string | null }> {
  const u = new URL(baseUrl);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname);
    let error: string | null = null;
    let buf = Buffer.alloc(0);
    let settled = false;
    const done = (closeCode: number | null) => {
      if (settled) return;
      settled = true;
      s.destroy();
      resolve({ closeCode, error });
    };
    setTimeout(() => done(null), 15_000);
    s.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
      done(null);
    });
    /** Server frames are not masked: walk them to the close frame. */
    const closeCodeIn = (b: Buffer): number | null | undefined => {
      let at = 0;
      while (at + 2 <= b.length) {
        const opcode = b[at]! & 0x0f;
        let len = b[at + 1]! & 0x7f;
        let off = at + 2;
        if (len === 126) { if (off + 2 > b.length) return undefined; len = b.readUInt16BE(off); off += 2; }
        else if (len === 127) { if (off + 8 > b.length) return undefined; len = Number(b.readBigUInt64BE(off)); off += 8; }
        if (off + len > b.length) return undefined;
        if (opcode === 0x8) return len >= 2 ? b.readUInt16BE(off) : null;
        at = off + len;
      }
      return undefined;
    };
    s.once('connect', async () => {
      s.write(head('GET', `${path}?token=${token}`, { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' }));
      // Wait for the 101 before sending frames; this much is read.
      await new Promise<void>((r) => {
        const onData = (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          const end = buf.indexOf('\r\n\r\n');
          if (end >= 0) {
            s.off('data', onData);
            s.pause();
            buf = buf.subarray(end + 4);
            r();
          }
        };
        s.on('data', onData);
      });
      const header = Buffer.alloc(14);
      header[0] = 0x82; // FIN, binary
      header[1] = 0x80 | 127; // masked, 64-bit length
      header.writeBigUInt64BE(BigInt(size), 2); // mask key (bytes 10..13) is zero: the payload goes as is
      s.write(header);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      for (let sent = 0; sent < size && !settled; sent += chunk.length) {
        if (!s.write(chunk.subarray(0, Math.min(chunk.length, size - sent)))) await new Promise((r) => { s.once('drain', r); s.once('close', r); });
      }
      if (settled) return;
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        const code = closeCodeIn(buf);
        if (code !== undefined) done(code);
      });
      s.on('close', () => done(closeCodeIn(buf) ?? null));
      s.resume();
    });
  });
}
