// A Redis Cluster of our own for tests and the benchmark: `masters` redis-servers with
// `--cluster-enabled yes` (and `replicas` replicas each) on spare ports, joined with
// `redis-cli --cluster create`, ready once every node reports cluster_state:ok with every slot
// covered. No persistence. Plain Node (no vitest import): the benchmark loads the compiled copy
// (dist/test/helpers/redis-cluster.js).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

export interface ClusterNodeProcess {
  port: number;
  child: ChildProcess;
  exited: Promise<void>;
}

export interface RedisClusterServers {
  /** "127.0.0.1:p1,127.0.0.1:p2,..." (every node): the value of REDIS_CLUSTER_NODES. */
  nodes: string;
  ports: number[];
  /** Ports of the current masters (asked of the cluster). */
  masterPorts(): Promise<number[]>;
  /** The port of the master that serves `key` now. */
  masterOf(key: string): Promise<number>;
  /** SIGKILLs one node. */
  kill(port: number): Promise<void>;
  /** Resolves once a replica has taken over every slot (cluster_state:ok on the live nodes). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  masters?: number;
  replicas?: number;
  /** cluster-node-timeout: how long a master may be silent before its replica takes over. */
  nodeTimeoutMs?: number;
}

function startNode(port: number, dir: string, nodeTimeoutMs: number): ClusterNodeProcess {
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
    '--cluster-node-timeout', String(nodeTimeoutMs),
    // A killed master's replica takes over at once (no waiting on a data-age check).
    '--cluster-replica-validity-factor', '0',
  ], { stdio: 'ignore' });
  child.once('error', () => {});
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return { port, child, exited };
}

/** Resolves true once the node answers (it, not another server on its port), false when it exits or stays silent for 5 s. */
async function answers(p: ClusterNodeProcess): Promise<boolean> {
  let exited = false;
  void p.exited.then(() => (exited = true));
  const deadline = Date.now() + 5000;
  while (!exited && Date.now() < deadline) {
    const info = await withNode(p.port, (r) => r.info('server')).catch(() => '');
    if (info.includes(`process_id:${p.child.pid}\r`)) return true;
    if (info) break; // another server holds the port
    await sleep(50);
  }
  if (!exited) p.child.kill('SIGKILL');
  return false;
}

async function withNode<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: 2000 });
  r.on('error', () => {});
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/** CLUSTER SLOTS as [first slot, last slot, master port]. */
async function slotRanges(port: number): Promise<[number, number, number][]> {
  const slots = await withNode(port, (r) => r.cluster('SLOTS'));
  return slots.map((s) => [s[0], s[1], Number(s[2]![1])] as [number, number, number]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startRedisCluster(opts: ClusterOptions = {}): Promise<RedisClusterServers> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicas ?? 1;
  const nodeTimeoutMs = opts.nodeTimeoutMs ?? 2000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-redis-cluster-'));
  const procs: ClusterNodeProcess[] = [];
  const alive = new Set<number>();
  const stop = async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      // A port taken between the check and the start (other tests pick random ports too): another.
      for (let attempt = 1; ; attempt++) {
        const p = startNode(await freePort(10000), dir, nodeTimeoutMs);
        procs.push(p);
        if (await answers(p)) break;
        if (attempt === 3) throw new Error(`redis-server --cluster-enabled did not start (port ${p.port})`);
      }
      alive.add(procs.at(-1)!.port);
    }
    const ports = [...alive];
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas', String(replicas), '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${(create.stdout + create.stderr).slice(-800)}`);

    /** Every slot is served by a master that is still running. */
    const servedByLiveMasters = async () => {
      let covered = 0;
      for (const [from, to, port] of await slotRanges([...alive][0]!)) if (alive.has(port)) covered += to - from + 1;
      return covered === 16384;
    };
    const clusterInfo = (port: number) => withNode(port, (r) => r.cluster('INFO') as Promise<string>);
    const waitHealthy = async (timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all([...alive].map((p) => clusterInfo(p).catch(() => '')));
        const served = await servedByLiveMasters().catch(() => false);
        if (served && states.every((s) => /cluster_state:ok/.test(s) && /cluster_slots_ok:16384/.test(s))) return;
        if (Date.now() > deadline) throw new Error(`Redis Cluster not healthy within ${timeoutMs} ms: ${states.map((s) => /cluster_state:\w+/.exec(s)?.[0]).join(' ')}`);
        await sleep(100);
      }
    };
    await waitHealthy();
    // Every replica attached to its master (else a failover would find none).
    const deadline = Date.now() + 15_000;
    for (;;) {
      const lines = (await withNode(ports[0]!, (r) => r.cluster('NODES') as Promise<string>)).split('\n').filter(Boolean);
      const slaves = lines.filter((l) => / (slave|replica) /.test(l) || l.split(' ')[2]?.includes('slave'));
      if (slaves.length >= masters * replicas) break;
      if (Date.now() > deadline) throw new Error('Redis Cluster replicas did not attach');
      await sleep(100);
    }

    const masterPorts = async () => {
      const port = [...alive][0]!;
      const lines = (await withNode(port, (r) => r.cluster('NODES') as Promise<string>)).split('\n').filter(Boolean);
      return lines
        .filter((l) => l.split(' ')[2]?.includes('master') && !l.split(' ')[2]?.includes('fail'))
        .map((l) => Number(/:(\d+)@/.exec(l)![1]));
    };
    return {
      nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
      ports,
      masterPorts,
      async masterOf(key) {
        const port = [...alive][0]!;
        const slot = await withNode(port, (r) => r.cluster('KEYSLOT', key) as Promise<number>);
        const range = (await slotRanges(port)).find(([from, to]) => slot >= from && slot <= to);
        if (!range) throw new Error(`no node serves slot ${slot}`);
        return range[2];
      },
      async kill(port) {
        const p = procs.find((x) => x.port === port);
        if (!p) throw new Error(`no node on port ${port}`);
        alive.delete(port);
        p.child.kill('SIGKILL');
        await p.exited;
      },
      waitHealthy,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
