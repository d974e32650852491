// Reading on a Redis Cluster: one blocked reader connection per watched slot, on that slot's master;
// a stream added to a slot that is already being read joins its blocked XREAD at once (CLIENT
// UNBLOCK on that server); readers and their connections go when nobody watches their slot any
// more. A cluster of this file's own: it counts the connections on every master.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis } from 'ioredis';
import type { StoredFrame } from '../../src/frames/frame.js';
import { RedisConnections } from '../../src/redis/connections.js';
import { RedisFrameStore } from '../../src/frames/redis-store.js';
import { streamKey } from '../../src/frames/keys.js';
import { image, imageSeq, memoryLog, uniqueLabel, waitFor } from '../helpers/redis-server.js';
import { startRedisCluster, type RedisClusterServers } from '../helpers/redis-cluster.js';

let cluster: RedisClusterServers;
let conns: RedisConnections;
let store: RedisFrameStore;
let plain: Cluster;

const nodes = () => cluster.ports.map((port) => ({ host: '127.0.0.1', port }));

beforeAll(async () => {
  cluster = await startRedisCluster({ replicas: 0 });
  conns = await RedisConnections.open({ cluster: { nodes: nodes(), tls: false } }, { log: memoryLog() });
  store = await RedisFrameStore.open({
    redis: conns, maxLen: 10, scanIntervalMs: 1000, idleMs: 3600_000, log: memoryLog(), blockMs: 5000, prefix: `fstest:${process.pid}:`,
  });
  plain = new Cluster(nodes());
}, 60_000);
afterAll(async () => {
  await store?.close();
  await conns?.close();
  plain?.disconnect();
  await cluster?.stop();
});

function xadd(label: string, key: string, seq: number): Promise<string | null> {
  return plain.xadd(streamKey(label, key), '*', 'frame', image(0, seq), 'warnings', '', 'cone_polygons', '', 'pole_polygons', '',
    'detection_items', '', 'width', '0', 'height', '0');
}

/** Reader connections of this process's store, on every master. */
async function readerConnections(): Promise<number> {
  let n = 0;
  for (const { host, port } of nodes()) {
    const r = new Redis({ host, port, lazyConnect: true });
    r.on('error', () => {});
    try {
      await r.connect();
      const list = (await r.client('LIST')) as string;
      n += list.split('\n').filter((l) => l.includes('name=framestore-reader')).length;
    } finally {
      r.disconnect();
    }
  }
  return n;
}

/** A camera name whose stream falls in `slot`. */
function cameraInSlot(label: string, slot: number, prefix: string): string {
  for (let i = 0; i < 1_000_000; i++) if (calculateSlot(streamKey(label, `${prefix}${i}`)) === slot) return `${prefix}${i}`;
  throw new Error(`no camera name for slot ${slot}`);
}

describe('Redis Cluster readers', () => {
  it('read each watched slot on a connection of their own, add a stream to a blocked read at once, and go when unwatched', async () => {
    const label = uniqueLabel();
    const cams = ['a', 'b', 'c'];
    for (const c of cams) await xadd(label, c, 0);
    await waitFor('the streams found', async () => (await store.keys(label)).length === 3, 5000);
    const slots = new Set(cams.map((c) => calculateSlot(streamKey(label, c))));
    const before = await readerConnections();

    const got: StoredFrame[] = [];
    const sub = await store.subscribe(label, (f) => void got.push(f));
    expect(sub.snapshot.length).toBe(3);
    await waitFor('a reader per watched slot', async () => (await readerConnections()) === before + slots.size, 5000);

    // Frames of every camera arrive through the readers.
    for (const [i, c] of cams.entries()) await xadd(label, c, i + 1);
    await waitFor('a frame of every camera', () => cams.every((c) => got.some((f) => f.key === c)), 3000);

    // A new camera in a slot that is already being read (blocked for up to 5 s): delivered at once.
    const sameSlot = cameraInSlot(label, calculateSlot(streamKey(label, 'a')), 'late-');
    await xadd(label, sameSlot, 0); // found by the sweep within a second, then read by slot a's reader
    await waitFor('the new camera', () => got.some((f) => f.key === sameSlot), 3000);
    const t = Date.now();
    await xadd(label, sameSlot, 1);
    await waitFor('its next frame', () => got.filter((f) => f.key === sameSlot).length === 2, 2000);
    expect(Date.now() - t).toBeLessThan(1000);
    expect(got.filter((f) => f.key === sameSlot).map((f) => imageSeq(f.frame).seq)).toEqual([0, 1]);

    sub.unsubscribe();
    await waitFor('the readers gone', async () => (await readerConnections()) === before, 8000);
  });
});
