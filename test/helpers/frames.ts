// Test frames and clients of the wire protocol: real HTTP requests and real WebSocket connections.
import WebSocket from 'ws';
import sharp from 'sharp';

const DELIM = Buffer.from('--IMG--');

/** A JPEG-signed image whose bytes carry a camera index and a sequence number. */
export function jpeg(seq: number, size = 64, cam = 0): Buffer {
  const b = Buffer.alloc(Math.max(size, 16), 0x41);
  b[0] = 0xff; b[1] = 0xd8; b[2] = 0xff; b[3] = 0xfe;
  b.writeUInt16BE(cam, 4);
  b.writeUInt32BE(seq, 6);
  b[b.length - 2] = 0xff; b[b.length - 1] = 0xd9;
  return b;
}

export function seqOf(image: Buffer): { cam: number; seq: number } {
  return { cam: image.readUInt16BE(4), seq: image.readUInt32BE(6) };
}

export interface UploadFields {
  label?: string;
  key?: string;
  warnings_json?: string;
  cone_polygons_json?: string;
  pole_polygons_json?: string;
  detection_items_json?: string;
  width?: string;
  height?: string;
}

export const defaultMeta = {
  warnings_json: '{"warning_no_hardhat":{"count":2}}',
  cone_polygons_json: '[[[10,10],[60,10],[60,40]]]',
  pole_polygons_json: '[]',
  detection_items_json: '[[1,2,30,40,0.9,0]]',
  width: '64',
  height: '48',
};

export async function postFrame(
  baseUrl: string,
  token: string | null,
  fields: UploadFields,
  image: Buffer | null,
  filename = 'frame.jpg',
): Promise<{ status: number; body: any; headers: Headers }> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) form.append(k, v);
  if (image) form.append('file', new Blob([new Uint8Array(image)], { type: 'image/jpeg' }), filename);
  const res = await fetch(`${baseUrl}/frames`, {
    method: 'POST',
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: form,
  });
  const text = await res.text();
  let body: any = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body, headers: res.headers };
}

export interface FormPart {
  name?: string;
  /** Present: a file part. */
  filename?: string;
  value: string | Buffer;
  /** Extra header lines of the part. */
  headers?: string[];
}

/** A multipart/form-data body built by hand (duplicates, odd parts, raw bytes), and its content type. */
export function multipart(parts: FormPart[], boundary = 'formBoundary7MA4YWxkTrZu0gW'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = ['form-data', p.name !== undefined ? `name="${p.name}"` : null, p.filename !== undefined ? `filename="${p.filename}"` : null].filter(Boolean).join('; ');
    const lines = [`--${boundary}`, `Content-Disposition: ${disposition}`, ...(p.headers ?? []), '', ''];
    chunks.push(Buffer.from(lines.join('\r\n'), 'utf8'), Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value, 'utf8'), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** The parts of a good upload (override or drop fields by name). */
export function uploadParts(fields: UploadFields, image: Buffer | null = jpeg(1)): FormPart[] {
  const parts: FormPart[] = Object.entries(fields).filter(([, v]) => v !== undefined).map(([name, value]) => ({ name, value: value as string }));
  if (image) parts.push({ name: 'file', filename: 'frame.jpg', value: image, headers: ['Content-Type: image/jpeg'] });
  return parts;
}

/** POSTs a hand-built body to /frames. */
export async function postBody(baseUrl: string, token: string | null, body: Buffer | string, contentType: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${baseUrl}/frames`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  const text = await res.text();
  let parsed: any = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** A multipart/form-data body for POST /frames, for tests that send it by hand (trickled, cut short). */
export function multipartBody(fields: UploadFields, image: Buffer, boundary?: string): { body: Buffer; contentType: string } {
  return multipart(uploadParts(fields, image), boundary);
}

export function frameMessage(header: object, image: Buffer): Buffer {
  return Buffer.concat([Buffer.from(JSON.stringify(header)), DELIM, image]);
}

export interface Received {
  header: any;
  image: Buffer;
  raw: Buffer;
}

export function splitFrame(raw: Buffer): Received {
  const i = raw.indexOf(DELIM);
  if (i < 0) throw new Error(`message without --IMG--: ${raw.subarray(0, 80).toString()}`);
  return { header: JSON.parse(raw.subarray(0, i).toString('utf8')), image: raw.subarray(i + DELIM.length), raw };
}

/** A WebSocket client that records everything it receives and how it closed. */
export class Client {
  readonly frames: Received[] = [];
  readonly texts: any[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: Array<() => void> = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.frames.push(splitFrame(data));
      else {
        const t = data.toString('utf8');
        try { this.texts.push(JSON.parse(t)); } catch { this.texts.push(t); }
      }
      this.wake();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on('error', () => {});
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  /** Resolves when `cond()` holds; rejects after `ms` with a description of what was seen. */
  async until(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out waiting for ${what}: frames=${this.frames.length} texts=${JSON.stringify(this.texts)} closed=${JSON.stringify(this.closed)}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  waitClose(ms = 3000): Promise<{ code: number; reason: string }> {
    return this.until(() => this.closed !== null, ms, 'close').then(() => this.closed!);
  }

  send(data: string | Buffer): void {
    this.ws.send(data);
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Opens a socket; the token goes in the query (as browsers do) unless `via` says header. */
export async function connect(baseUrl: string, path: string, token: string | null, via: 'query' | 'header' = 'query'): Promise<Client> {
  const u = new URL(path, baseUrl.replace(/^http/, 'ws'));
  if (token && via === 'query') u.searchParams.set('token', token);
  const ws = new WebSocket(u, { headers: token && via === 'header' ? { authorization: `Bearer ${token}` } : {}, perMessageDeflate: false });
  const client = new Client(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return client;
}

/**
 * Sends frames 1, 2, 3… of camera `key` on a producer socket, `inFlight` unanswered at any time,
 * until the socket closes (or `max` frames); resolves with the number sent.
 */
export async function sendUntilClosed(c: Client, label: string, key: string, inFlight = 8, max = 20_000): Promise<number> {
  let sent = 0;
  while (!c.closed && sent < max) {
    while (sent - c.texts.length < inFlight && sent < max) c.send(frameMessage({ label, key, ...defaultMeta }, jpeg(++sent)));
    await c.until(() => sent - c.texts.length < inFlight || c.closed !== null, 5000, 'answers');
  }
  return sent;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A label unique to one test (never containing "test", which /labels hides). */
export function uniqueLabel(prefix = 'site'): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * A real JPEG (noise, so that it decodes and resizes like a photograph) of the given size; the
 * same bytes for the same arguments. Frames that must stay recognisable after a preview
 * re-encodes them carry their number in a metadata field instead (see `stampedMeta`).
 */
export async function photoJpeg(width = 640, height = 360, seed = 1): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  let x = seed * 2654435761;
  for (let i = 0; i < raw.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    raw[i] = ((i / 3) % width) / 4 + (x >>> 26);
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
}

/** Metadata whose `warnings` carries a frame's camera and number: they survive a preview. */
export function stampedMeta(cam: number, seq: number, size: { width: string; height: string } = { width: '640', height: '360' }) {
  return { ...defaultMeta, warnings_json: JSON.stringify({ cam, seq }), ...size };
}

/** The camera and number `stampedMeta` put in a received frame's header. */
export function stampOf(f: Received): { cam: number; seq: number } {
  return JSON.parse(f.header.warnings);
}

/** Opens a socket that the server should refuse before the upgrade: its HTTP status and JSON body. */
export async function refusedUpgrade(baseUrl: string, path: string, token: string | null): Promise<{ status: number; body: any }> {
  const u = new URL(path, baseUrl.replace(/^http/, 'ws'));
  if (token) u.searchParams.set('token', token);
  const ws = new WebSocket(u, { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate();
      reject(new Error(`${path} was upgraded, not refused`));
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let body: any = text;
        try { body = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    ws.once('error', () => {});
  });
}
