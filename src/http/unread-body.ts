// What happens to a request body the service answers before reading (a bad token, no upload slot,
// a body over the limit):
// - A client that sent `Expect: 100-continue` waits for our word: it gets `100 Continue` only once
//   the route's checks (onRequest hooks) passed, so a request refused early never sends its body.
//   Node would answer every such request with 100 at once.
// - Most clients (Node's fetch, Python requests) write the whole body before reading. Closing on
//   them while they still send makes the kernel reset the connection, and the client reads a reset
//   instead of our reply. So the connection stays open and the rest of the body is read and
//   dropped (Node does this for a reply sent before the body was read), as nginx's lingering close
//   does, but bounded: at most `lingerMs` and `lingerMaxBytes` per request and `maxLingering`
//   connections at once; past that the connection is cut.
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

export interface LingerLimits {
  lingerMs: number;
  lingerMaxBytes: number;
  maxLingering: number;
}

function expectsContinue(req: IncomingMessage): boolean {
  const expect = req.headers.expect;
  return typeof expect === 'string' && expect.toLowerCase() === '100-continue';
}

export function handleUnreadBodies(app: FastifyInstance, limits: LingerLimits): void {
  const continued = new WeakSet<IncomingMessage>();
  let lingering = 0;

  // Node emits 'checkContinue' instead of 'request' when someone listens: route it as any request.
  app.server.on('checkContinue', (req, res) => app.routing(req, res));
  // Hooks in callback style: they run for every request, and need no promise.
  app.addHook('preParsing', (req, reply, payload, done) => {
    if (expectsContinue(req.raw) && !reply.sent && !continued.has(req.raw)) {
      continued.add(req.raw);
      reply.raw.writeContinue();
    }
    done(null, payload);
  });

  /** Reads and drops the rest of `req`'s body; cuts the connection past the limits. */
  const linger = (req: IncomingMessage): void => {
    lingering++;
    let bytes = 0;
    let done = false;
    const stop = (): void => {
      if (done) return;
      done = true;
      lingering--;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', stop);
      req.socket.off('close', stop);
    };
    const cut = (): void => {
      stop();
      req.socket.destroy();
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > limits.lingerMaxBytes) cut();
    };
    const timer = setTimeout(cut, limits.lingerMs);
    req.on('data', onData); // flowing: the body is read and dropped
    req.once('end', stop);
    req.socket.once('close', stop);
  };

  app.addHook('onSend', (req, reply, payload, done) => {
    const raw = req.raw;
    // An upgrade has no body to read (@fastify/websocket closes the socket of a refused one).
    if (raw.complete || reply.statusCode < 400 || raw.socket.destroyed || raw.headers.upgrade !== undefined) {
      done(null, payload);
      return;
    }
    const waiting = expectsContinue(raw) && !continued.has(raw); // the client sends nothing more
    const tooSlow = reply.statusCode === 408; // a client that trickles its body is not waited for
    if (waiting || tooSlow || limits.lingerMs === 0 || lingering >= limits.maxLingering) {
      reply.header('connection', 'close');
    } else {
      // Keep-alive: Node goes on reading the body after the reply instead of closing on the client.
      reply.removeHeader('connection');
      linger(raw);
    }
    done(null, payload);
  });
}
