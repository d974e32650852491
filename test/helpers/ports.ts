// A fixed port for a child process that must be told one before it starts (a restart on the same
// port, a Redis Cluster node, a PostgreSQL server). Picked below the kernel's ephemeral range
// (32768 and up), where outgoing connections and listen(0) take theirs, and checked free now.
import net from 'node:net';

const LOW = 20000;
const HIGH = 32767;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free port p such that p + offset is free too (a Redis Cluster node's bus port is p + 10000). */
export async function freePort(offset = 0): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW - offset));
    if ((await canListen(port)) && (offset === 0 || (await canListen(port + offset)))) return port;
  }
  throw new Error(`no free port between ${LOW} and ${HIGH}`);
}
