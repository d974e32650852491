// Steady traffic for the fault tests: producers uploading at a rate (HTTP or the producer socket),
// probes polling an endpoint, and what each saw and when, so that a test can say how long a fault
// took to show and to heal.
import { Client, connect, defaultMeta, frameMessage, jpeg, postFrame, seqOf, sleep } from './frames.js';

export interface Attempt {
  seq: number;
  /** performance.now() when sent and when answered. */
  start: number;
  end: number;
  /** HTTP status (a socket upload: 200 for {"status":"ok"}, 503 for an error reply). */
  status: number;
  code?: string;
}

export interface Producer {
  readonly attempts: Attempt[];
  /** Stops after the upload under way; resolves when it is answered. */
  stop(): Promise<void>;
}

/** Uploads frames of `cam` (seq 1, 2, ...) of `bytes` every `everyMs` over POST /frames, one at a time. */
export function httpProducer(url: string, token: string, label: string, key: string, cam: number, everyMs = 100, bytes = 256): Producer {
  const attempts: Attempt[] = [];
  let running = true;
  const loop = (async () => {
    for (let seq = 1; running; seq++) {
      const start = performance.now();
      let status = 0;
      let code: string | undefined;
      try {
        const r = await postFrame(url, token, { label, key, ...defaultMeta }, jpeg(seq, bytes, cam));
        status = r.status;
        code = typeof r.body === 'object' && r.body ? r.body.code : undefined;
      } catch {
        status = -1; // the connection failed
      }
      attempts.push({ seq, start, end: performance.now(), status, ...(code ? { code } : {}) });
      await sleep(Math.max(0, everyMs - (performance.now() - start)));
    }
  })();
  return { attempts, stop: async () => { running = false; await loop; } };
}

/** The same over one producer socket (WS /ws/frames): each upload waits for its reply. */
export async function socketProducer(url: string, token: string, label: string, key: string, cam: number, everyMs = 100): Promise<Producer & { client: Client }> {
  const client = await connect(url, '/ws/frames', token, 'header');
  const attempts: Attempt[] = [];
  let running = true;
  const loop = (async () => {
    for (let seq = 1; running && client.closed === null; seq++) {
      const start = performance.now();
      const before = client.texts.length;
      client.send(frameMessage({ label, key, ...defaultMeta }, jpeg(seq, 256, cam)));
      await client.until(() => client.texts.length > before || client.closed !== null, 30_000, 'a producer reply');
      const reply = client.texts[before];
      attempts.push({ seq, start, end: performance.now(), status: reply?.status === 'ok' ? 200 : reply ? 503 : -1 });
      await sleep(Math.max(0, everyMs - (performance.now() - start)));
    }
  })();
  return { client, attempts, stop: async () => { running = false; await loop; } };
}

export interface Probe {
  readonly seen: Array<{ t: number; status: number; ms: number }>;
  stop(): Promise<void>;
}

/** GETs `path` every `everyMs` (one at a time), recording status and latency. */
export function probe(url: string, path: string, everyMs = 100): Probe {
  const seen: Probe['seen'] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      let status = -1;
      try {
        const res = await fetch(url + path, { signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        status = res.status;
      } catch { /* counted as -1 */ }
      seen.push({ t, status, ms: performance.now() - t });
      await sleep(Math.max(0, everyMs - (performance.now() - t)));
    }
  })();
  return { seen, stop: async () => { running = false; await loop; } };
}

/** Per camera, the sequence numbers a viewer received, in order. */
export function seqsByCamera(client: Client): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const f of client.frames) {
    const { cam, seq } = seqOf(f.image);
    if (!m.has(cam)) m.set(cam, []);
    m.get(cam)!.push(seq);
  }
  return m;
}

/** True when every camera's frames came in increasing order, none twice. */
export function inOrderOnce(client: Client): boolean {
  for (const seqs of seqsByCamera(client).values()) {
    for (let i = 1; i < seqs.length; i++) if (seqs[i]! <= seqs[i - 1]!) return false;
  }
  return true;
}

/** A pull viewer that asks for the next frame as soon as it has one. */
export async function eagerPuller(url: string, token: string, label: string, key: string): Promise<Client> {
  const c = await connect(url, `/ws/stream/${label}/${key}`, token);
  c.ws.on('message', (_d, isBinary) => {
    if (isBinary && c.closed === null) c.send('{"action":"pull"}');
  });
  c.send('{"action":"pull"}');
  return c;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** One line of figures for the report, marked so that it is easy to find in the output. */
export function report(what: string, figures: Record<string, string | number>): void {
  const text = Object.entries(figures).map(([k, v]) => `${k}=${typeof v === 'number' ? Math.round(v * 10) / 10 : v}`).join(' ');
  console.log(`[figures] ${what}: ${text}`);
}

/** The service's Prometheus metrics as name{labels} → value. */
export async function metricsOf(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** The service's resident and heap memory, MB. */
export async function memoryOf(url: string): Promise<{ rssMb: number; heapMb: number }> {
  const m = await metricsOf(url);
  return { rssMb: (m.get('process_resident_memory_bytes') ?? NaN) / 2 ** 20, heapMb: (m.get('nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20 };
}

/**
 * Frames a viewer missed: per camera (index = the producer's camera number), the sequence numbers
 * between the first it received and the last one acknowledged to the producer that it lacks.
 */
export function missedFrames(client: Client, producers: Producer[]): number {
  const byCam = seqsByCamera(client);
  let missed = 0;
  producers.forEach((p, cam) => {
    const got = new Set(byCam.get(cam) ?? []);
    const first = Math.min(...got);
    for (const a of p.attempts) if (a.status === 200 && a.seq >= first && !got.has(a.seq)) missed++;
  });
  return missed;
}
