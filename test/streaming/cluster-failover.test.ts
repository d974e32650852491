// A Redis Cluster master dies while cameras post and viewers watch: its replica takes over, and the
// viewers (never reconnected, no restart) get every camera's frames again within seconds, in order
// and never twice. The cluster is this file's own (3 masters, 3 replicas), since a node is killed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, type RedisClusterServers } from '../helpers/redis-cluster.js';
import { startService, type TestService } from '../helpers/service.js';
import { call, eventually } from '../helpers/http.js';
import { connect, defaultMeta, jpeg, postFrame, seqOf, sleep, uniqueLabel } from '../helpers/frames.js';
import { streamKey } from '../../src/frames/keys.js';

let cluster: RedisClusterServers;
let svc: TestService;

beforeAll(async () => {
  cluster = await startRedisCluster({ nodeTimeoutMs: 1000 });
  svc = await startService({ store: 'cluster', env: { REDIS_CLUSTER_NODES: cluster.nodes } });
}, 60_000);
afterAll(async () => {
  await svc?.stop();
  await cluster?.stop();
});

describe('Redis Cluster failover', () => {
  it('viewers get every camera again within seconds after a master is killed', async () => {
    const token = await svc.token('admin');
    const label = uniqueLabel('failover');
    // Cameras on every master, so that one of them is on the master that dies.
    const masters = await cluster.masterPorts();
    const cams: string[] = [];
    const onMaster = new Map<number, string>();
    for (let i = 0; onMaster.size < masters.length && i < 200; i++) {
      const port = await cluster.masterOf(streamKey(label, `cam-${i}`));
      if (!onMaster.has(port)) {
        onMaster.set(port, `cam-${i}`);
        cams.push(`cam-${i}`);
      }
    }
    expect(cams.length).toBe(3);

    let seq = 0;
    let posting = true;
    const statuses = new Map<number, number>();
    const producer = (async () => {
      while (posting) {
        seq++;
        await Promise.all(cams.map(async (key, cam) => {
          const r = await postFrame(svc.url, token, { label, key, ...defaultMeta }, jpeg(seq, 128, cam)).catch(() => ({ status: 0 }));
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        }));
        await sleep(100);
      }
    })();
    try {
      await eventually(() => (statuses.get(200) ?? 0) >= cams.length, 5000, 'the first uploads');
      const v = await connect(svc.url, `/ws/labels/${encodeURIComponent(label)}`, token);
      await v.until(() => cams.every((k) => v.frames.some((f) => f.header.key === k)), 5000, 'frames of every camera');

      const victim = [...onMaster.keys()][0]!;
      await cluster.kill(victim);
      const killedAt = Date.now();
      const seqAtKill = seq;
      // Every camera, the one on the dead master included, delivers frames posted after the kill.
      const ms = await eventually(
        () => cams.every((k) => v.frames.some((f) => f.header.key === k && seqOf(f.image).seq > seqAtKill + 2)),
        20_000,
        'frames of every camera after the failover',
      );
      console.log(`master ${victim} killed: every camera back at the viewer after ${ms} ms; upload replies ${JSON.stringify([...statuses])}`);
      expect(Date.now() - killedAt).toBeLessThan(20_000);
      expect(v.closed).toBeNull();

      // In order, never twice, per camera.
      for (const k of cams) {
        const seqs = v.frames.filter((f) => f.header.key === k).map((f) => seqOf(f.image).seq);
        expect(seqs).toEqual([...new Set(seqs)].sort((x, y) => x - y));
      }
      // Uploads failed only with 503 while the slot had no master, and the service is ready again.
      expect([...statuses.keys()].every((s) => s === 200 || s === 503)).toBe(true);
      await eventually(async () => (await call(svc.url, 'GET', '/readyz')).status === 200, 10_000, 'readiness');
      v.close();
    } finally {
      posting = false;
      await producer;
    }
  });
});
