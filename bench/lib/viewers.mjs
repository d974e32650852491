// Viewers of the benchmark's own (framebench measures neither a slow viewer nor Redis commands):
// - openSlowViewer: a push viewer on a raw TCP socket that reads at most `rate` bytes a second,
//   with its own minimal WebSocket client, so the pace is exact (the kernel's buffers and the
//   server's are all that hold the rest);
// - openFastViewer: an ordinary `ws` viewer that reads everything and notes when each stamped
//   frame arrived: the reference for how recent the slow viewer's frames are.
// framebench stamps each JPEG: bytes 6..10 'FBEN', stream u16 at 10, sequence u32 at 12.
import crypto from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const DELIM = Buffer.from('--IMG--');
const MAGIC = Buffer.from('FBEN');

export function readStamp(message) {
  const i = message.indexOf(DELIM);
  if (i < 0) return null;
  const f = message.subarray(i + DELIM.length);
  if (f.length < 24 || f[2] !== 0xff || f[3] !== 0xfe || !f.subarray(6, 10).equals(MAGIC)) return null;
  return { stream: f.readUInt16BE(10), seq: f.readUInt32BE(12) };
}

/** Per-stream bookkeeping of what a viewer received. */
class Received {
  /** floor: when set, a stream whose first frame is above it has already skipped (floor..first-1). */
  constructor(floor = null) {
    this.floor = floor;
    this.messages = 0;
    this.bytes = 0;
    this.unstamped = 0;
    this.streams = new Map(); // stream -> { first, last, count, outOfOrder }
    this.newest = null; // { stream, seq, t } of the last message received
    this.firstGapAt = null; // performance.now() when a sequence number was first skipped
  }
  add(msg, now) {
    this.messages++;
    this.bytes += msg.length;
    const st = readStamp(msg);
    if (!st) { this.unstamped++; return null; }
    let s = this.streams.get(st.stream);
    if (!s) {
      this.streams.set(st.stream, (s = { first: st.seq, last: st.seq, count: 0, outOfOrder: 0 }));
      if (this.floor !== null && st.seq > this.floor && this.firstGapAt === null) this.firstGapAt = now;
    } else if (st.seq <= s.last) s.outOfOrder++;
    else {
      if (st.seq > s.last + 1 && this.firstGapAt === null) this.firstGapAt = now;
      s.last = st.seq;
    }
    s.count++;
    this.newest = { ...st, t: now };
    return st;
  }
}

/**
 * A viewer that reads `rate` bytes/s from a raw socket. Resolves once the server answered 101.
 * Frames with seq < seqFloor (framebench's warm-up) are counted apart, not in the gap figures.
 */
export function openSlowViewer({ host, port, path, token, rate = 100_000, seqFloor = 1_000_000 }) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    sock.setNoDelay(true);
    const key = crypto.randomBytes(16).toString('base64');
    const rx = new Received();
    const measured = new Received(seqFloor);
    const state = { closeCode: null, closeReason: '', closedAt: null, ended: false, error: null, texts: [], pings: 0 };
    let head = Buffer.alloc(0);
    let opened = false;
    let timer = null;
    const t0 = performance.now();

    // --- WebSocket frame parser (server frames are not masked) ---
    let pending = []; let pendingLen = 0;
    let frame = null; // { fin, opcode, len, got: [] }
    let fragments = null; // continuation
    const take = (n) => {
      const out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = pending[0];
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (k === c.length) pending.shift(); else pending[0] = c.subarray(k);
      }
      pendingLen -= n;
      return out;
    };
    const peek = (n) => (pendingLen >= n ? Buffer.concat(pending, Math.min(pendingLen, 14)).subarray(0, n) : null);
    const sendControl = (opcode, payload = Buffer.alloc(0)) => {
      if (sock.destroyed) return;
      const mask = crypto.randomBytes(4);
      const h = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
      const body = Buffer.from(payload);
      for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
      sock.write(Buffer.concat([h, mask, body]));
    };
    const onMessage = (opcode, payload) => {
      const now = performance.now();
      if (opcode === 2) {
        const st = rx.add(payload, now);
        if (st && st.seq >= seqFloor) measured.add(payload, now);
      } else if (opcode === 1) {
        state.texts.push(payload.toString('utf8').slice(0, 200));
      }
    };
    const parse = () => {
      for (;;) {
        if (!frame) {
          const h2 = peek(2);
          if (!h2) return;
          const fin = (h2[0] & 0x80) !== 0, opcode = h2[0] & 0x0f;
          let len = h2[1] & 0x7f, hl = 2;
          if (h2[1] & 0x80) { state.error = 'server frame is masked'; sock.destroy(); return; }
          if (len === 126) { const h = peek(4); if (!h) return; len = h.readUInt16BE(2); hl = 4; }
          else if (len === 127) { const h = peek(10); if (!h) return; len = Number(h.readBigUInt64BE(2)); hl = 10; }
          take(hl);
          frame = { fin, opcode, len };
        }
        if (pendingLen < frame.len) return;
        const payload = frame.len ? take(frame.len) : Buffer.alloc(0);
        const { fin, opcode } = frame;
        frame = null;
        if (opcode === 8) {
          state.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
          state.closeReason = payload.subarray(2).toString('utf8');
          state.closedAt = (performance.now() - t0) / 1000;
          sendControl(8, payload.subarray(0, 2));
          sock.end();
          return;
        }
        if (opcode === 9) { state.pings++; sendControl(10, payload); continue; }
        if (opcode === 10) continue;
        if (opcode === 0) {
          if (fragments) fragments.parts.push(payload);
          if (fin && fragments) { onMessage(fragments.opcode, Buffer.concat(fragments.parts)); fragments = null; }
          continue;
        }
        if (!fin) { fragments = { opcode, parts: [payload] }; continue; }
        onMessage(opcode, payload);
      }
    };
    const feed = (buf) => { if (buf.length) { pending.push(buf); pendingLen += buf.length; parse(); } };

    // --- paced reading: a token bucket of `rate` bytes/s, refilled every 20 ms ---
    let budget = 0, last = performance.now(), readBytes = 0;
    const pace = () => {
      const now = performance.now();
      budget = Math.min(budget + ((now - last) / 1000) * rate, rate * 0.1);
      last = now;
      while (budget >= 1) {
        const avail = sock.readableLength;
        if (!avail) { sock.read(0); break; }
        const chunk = sock.read(Math.min(avail, Math.floor(budget)));
        if (!chunk) break;
        budget -= chunk.length;
        readBytes += chunk.length;
        feed(chunk);
      }
    };

    const onHandshakeData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) { if (head.length > 16384) fail(new Error('handshake answer too long')); return; }
      sock.off('data', onHandshakeData);
      sock.pause();
      const status = head.subarray(0, end).toString('latin1').split('\r\n')[0];
      if (!/^HTTP\/1\.1 101/.test(status)) { fail(new Error(`slow viewer refused: ${status}`)); return; }
      opened = true;
      const rest = head.subarray(end + 4);
      head = null;
      // From here on the socket is read only by pace(): paused mode, read(n) at the set rate.
      sock.on('readable', () => {});
      if (rest.length) { readBytes += rest.length; feed(rest); }
      timer = setInterval(pace, 20);
      resolve(viewer);
    };
    const fail = (err) => {
      state.error = err.message;
      clearInterval(timer);
      sock.destroy();
      if (!opened) reject(err);
    };
    sock.on('data', onHandshakeData);
    sock.on('error', (err) => { state.error = err.message; if (!opened) reject(err); });
    sock.on('close', () => {
      state.ended = true;
      if (!state.closedByClient) state.endedByServer = true;
      clearInterval(timer);
      if (state.closedAt === null) state.closedAt = (performance.now() - t0) / 1000;
      if (!opened) reject(new Error('slow viewer: socket closed before the handshake'));
    });
    sock.on('connect', () => {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    });

    const viewer = {
      all: rx,
      measured,
      state,
      get readBytes() { return readBytes; },
      get localPort() { return sock.localPort; },
      get open() { return opened && !state.ended && state.closeCode === null; },
      close() {
        state.closedByClient = true;
        clearInterval(timer);
        if (!sock.destroyed) { sendControl(8, Buffer.from([0x03, 0xe8])); sock.destroy(); }
      },
    };
  });
}

/** An ordinary viewer that reads everything: notes the arrival time of each stamped frame. */
export async function openFastViewer(url, token) {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
  ws.binaryType = 'nodebuffer';
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('close', (code, reason) => reject(new Error(`viewer closed before opening: ${code} ${reason}`)));
  });
  const rx = new Received();
  const arrivals = new Map(); // "stream:seq" -> performance.now()
  const v = { ws, rx, arrivals, lastArrival: 0, closeCode: null, closeReason: '' };
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    const now = performance.now();
    const st = rx.add(data, now);
    if (st) { arrivals.set(`${st.stream}:${st.seq}`, now); v.lastArrival = now; }
  });
  ws.on('close', (code, reason) => { v.closeCode = code; v.closeReason = String(reason); });
  ws.on('error', () => {});
  v.close = () => { try { ws.terminate(); } catch { /* closed */ } };
  return v;
}
