// Once per test run: the Redis Cluster that the streaming tests run against as a third frame store
// (STORES in service.ts), started from redis-server --cluster-enabled and redis-cli --cluster
// create on spare ports, and stopped at the end. Tests that kill nodes start a cluster of their own.
import type { TestProject } from 'vitest/node';
import { startRedisCluster, type RedisClusterServers } from './redis-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** REDIS_CLUSTER_NODES of the shared test cluster. */
    redisClusterNodes: string;
  }
}

let cluster: RedisClusterServers | null = null;

export async function setup(project: TestProject): Promise<void> {
  try {
    cluster = await startRedisCluster();
  } catch (err) {
    throw new Error(`could not start the test Redis Cluster (redis-server and redis-cli 7 are needed): ${(err as Error).message}`);
  }
  project.provide('redisClusterNodes', cluster.nodes);
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
}
