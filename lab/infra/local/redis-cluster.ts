/**
 * Redis Cluster, for suites that require it (`labEnvironment({ redisCluster: true })`): six
 * redis-server nodes in cluster mode on 127.0.0.1, joined by `redis-cli --cluster create … 
 * --cluster-replicas 1`, so three masters with a replica each. Debian's redis-server, as the single
 * Redis uses; no persistence (a test owns its keys).
 *
 * The cluster bus port is given explicitly (`--cluster-port`): Redis's default, data port + 10000,
 * can fall outside the port range or on a port another process owns, since data ports are drawn free.
 * No Toxiproxy in front yet: cluster clients follow the addresses the nodes announce (MOVED, CLUSTER
 * SLOTS), so a proxy would also need `cluster-announce-port`, which replicas then use for replication.
 */
import { Redis } from 'ioredis';
import { runPaths } from '../paths.ts';
import type { ProcessSpec } from './supervisor.ts';

export const redisClusterSize = 6;
export const redisCliBinaries = ['redis-cli', '/usr/bin/redis-cli'];
export const redisClusterNodeName = (index: number) => `redis-cluster-${index}`;
/** Matches a node's process name, for the stop order and the image choice. */
export const redisClusterNodePattern = /^redis-cluster-\d+$/;

export interface RedisClusterNode {
  index: number;
  port: number;
  busPort: number;
}

export function redisClusterNodeSpec(server: string, node: RedisClusterNode): ProcessSpec {
  const name = redisClusterNodeName(node.index);
  const dir = runPaths.data(name);
  return {
    name,
    command: server,
    args: [
      '--bind', '127.0.0.1',
      '--port', String(node.port),
      '--cluster-enabled', 'yes',
      '--cluster-port', String(node.busPort),
      '--cluster-config-file', `${dir}/nodes.conf`,
      // A killed master's replica takes over after this long: short, like the brokers' session timeout.
      '--cluster-node-timeout', '5000',
      '--dir', dir,
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
      '--protected-mode', 'yes',
      '--maxmemory', '64mb',
      '--maxmemory-policy', 'noeviction',
    ],
    logFile: runPaths.log(name),
    readyPort: node.port,
  };
}

/** The one-shot step that joins the nodes: masters are the first three, each gets one replica. */
export function redisClusterCreateSpec(cli: string, nodes: RedisClusterNode[]): ProcessSpec {
  return {
    name: 'redis-cluster-create',
    command: cli,
    args: ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '1', '--cluster-yes'],
    logFile: runPaths.log('redis-cluster-create'),
  };
}

/** `CLUSTER INFO` as a map. */
export function parseClusterInfo(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line.includes(':'))
      .map((line) => {
        const at = line.indexOf(':');
        return [line.slice(0, at), line.slice(at + 1)];
      }),
  );
}

/** Ready: the state is ok, every one of the 16384 slots is assigned and served, all nodes known. */
export function clusterInfoReady(info: Record<string, string>, size = redisClusterSize): boolean {
  return info['cluster_state'] === 'ok' && info['cluster_slots_assigned'] === '16384' && info['cluster_slots_ok'] === '16384' && Number(info['cluster_known_nodes']) === size;
}

/** Roles in `CLUSTER NODES` (flags are the third field: `myself,master`, `slave`, …). */
export function clusterRoles(nodesText: string): { masters: number; replicas: number } {
  const flags = nodesText.trim().split(/\r?\n/).filter(Boolean).map((line) => (line.split(' ')[2] ?? '').split(','));
  return { masters: flags.filter((f) => f.includes('master')).length, replicas: flags.filter((f) => f.includes('slave')).length };
}

/**
 * Every node reports a ready cluster and sees three masters and three replicas: right after
 * `--cluster create` a node can say `cluster_state:ok` while it still lists a replica as a master
 * (the role change had not reached it yet; a test saw four masters), and a node that has not heard
 * of the others yet says `fail`.
 */
export async function redisClusterReady(nodes: Array<{ host: string; port: number }>): Promise<boolean> {
  for (const node of nodes) {
    const client = new Redis({ host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined); // surfaced by connect()/call() below
    try {
      await client.connect();
      const info = parseClusterInfo(String(await client.call('CLUSTER', 'INFO')));
      if (!clusterInfoReady(info, nodes.length)) return false;
      const roles = clusterRoles(String(await client.call('CLUSTER', 'NODES')));
      if (roles.masters !== nodes.length / 2 || roles.replicas !== nodes.length / 2) return false;
    } finally {
      client.disconnect();
    }
  }
  return true;
}
