import { describe, expect, it } from 'vitest';
import { imageFor } from '../../lab/infra/containers/images.ts';
import { clusterInfoReady, clusterRoles, parseClusterInfo, redisClusterCreateSpec, redisClusterNodeSpec } from '../../lab/infra/local/redis-cluster.ts';

const nodes = Array.from({ length: 6 }, (_, index) => ({ index: index + 1, port: 7001 + index, busPort: 17001 + index }));
const arg = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('Redis Cluster component', () => {
  it('runs each node in cluster mode on loopback, with its own bus port, config file and data dir', () => {
    const spec = redisClusterNodeSpec('/usr/bin/redis-server', nodes[2]!);
    expect(spec.name).toBe('redis-cluster-3');
    expect(arg(spec.args, '--bind')).toBe('127.0.0.1');
    expect(arg(spec.args, '--port')).toBe('7003');
    expect(arg(spec.args, '--cluster-enabled')).toBe('yes');
    expect(arg(spec.args, '--cluster-port')).toBe('17003');
    expect(arg(spec.args, '--cluster-config-file')).toMatch(/data\/redis-cluster-3\/nodes\.conf$/);
    expect(spec.readyPort).toBe(7003);
  });

  it('creates the cluster with one replica per master, without asking', () => {
    const spec = redisClusterCreateSpec('redis-cli', nodes);
    expect(spec.args).toEqual(['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes']);
  });

  it('is ready only when the state is ok, all 16384 slots are served and all six nodes are known', () => {
    const info = parseClusterInfo('cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\ncluster_known_nodes:6\r\ncluster_size:3\r\n');
    expect(info['cluster_size']).toBe('3');
    expect(clusterInfoReady(info)).toBe(true);
    expect(clusterInfoReady({ ...info, cluster_state: 'fail' })).toBe(false);
    expect(clusterInfoReady({ ...info, cluster_slots_ok: '10923' })).toBe(false);
    expect(clusterInfoReady({ ...info, cluster_known_nodes: '1' })).toBe(false);
  });

  it('counts masters and replicas from CLUSTER NODES, as each node sees them', () => {
    const nodesText = [
      'a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460',
      'b2 127.0.0.1:7002@17002 master - 0 0 2 connected 5461-10922',
      'c3 127.0.0.1:7003@17003 master - 0 0 3 connected 10923-16383',
      'd4 127.0.0.1:7004@17004 slave c3 0 0 3 connected',
      'e5 127.0.0.1:7005@17005 slave a1 0 0 1 connected',
      'f6 127.0.0.1:7006@17006 master - 0 0 0 connected',
    ].join('\n');
    expect(clusterRoles(nodesText)).toEqual({ masters: 4, replicas: 2 });
    expect(clusterRoles(nodesText.replace('f6 127.0.0.1:7006@17006 master -', 'f6 127.0.0.1:7006@17006 slave b2'))).toEqual({ masters: 3, replicas: 3 });
  });

  it('runs in the redis image under the containers provider', () => {
    expect(imageFor('redis-cluster-4')).toBe('redis');
    expect(imageFor('redis-cluster-create')).toBe('redis');
  });
});
