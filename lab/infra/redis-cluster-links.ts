/**
 * Redis Cluster clients through Toxiproxy. A cluster client follows the addresses the nodes announce
 * (CLUSTER SLOTS, MOVED, ASK), not the ones it was given, so a proxy in front of each node is not enough
 * by itself: ioredis's `natMap` (v6 applies it to CLUSTER SLOTS and to MOVED/ASK targets) sends every
 * announced `host:port` to that node's proxy. The nodes keep announcing their own ports, so replication
 * and the cluster bus stay direct (the component's header: `cluster-announce-port` would move them too).
 *
 *   const links = await redisClusterLinks(env, `${arena.id}-rc`);     // one proxy per node, own names
 *   const cluster = links.client({ maxRedirections: 400 });            // every command crosses a proxy
 *   await nemesis.latency(links.proxyOf(port), 50);                    // a fault on one node's link
 *   await links.remove();                                              // clients first, then the proxies
 *
 * Proxies are made per caller (not by the providers), so the local and the containers provider, whose
 * Toxiproxy both reach the nodes on 127.0.0.1, work alike; without Toxiproxy (external) clients dial direct.
 */
import { Cluster, type ClusterOptions } from 'ioredis';
import type { LabEnvironment } from './environment.ts';
import { freePort } from './ports.ts';

export interface RedisClusterLinks {
  /** Node address as announced (`127.0.0.1:7001`) → its proxy's name (absent without Toxiproxy). */
  proxies: Record<string, string>;
  /** Announced `host:port` → the proxy's listen address (ioredis `natMap`). */
  natMap: Record<string, { host: string; port: number }>;
  /** The Toxiproxy proxy in front of the node on `port`. */
  proxyOf(port: number): string;
  /** A cluster client through the proxies (closed by `remove`). Options are ioredis's, defaults unless given. */
  client(options?: ClusterOptions): Cluster;
  /** Disconnects the clients made here and deletes the proxies. */
  remove(): Promise<void>;
}

export async function redisClusterLinks(env: LabEnvironment, name: string): Promise<RedisClusterLinks> {
  const nodes = env.descriptor.redisCluster?.nodes;
  if (!nodes) throw new Error('no Redis Cluster in this environment: the suite must require labEnvironment({ redisCluster: true })');
  const natMap: RedisClusterLinks['natMap'] = {};
  const proxies: Record<string, string> = {};
  const toxiproxy = env.toxiproxy;
  if (toxiproxy) {
    for (const node of nodes) {
      const port = await freePort();
      const proxy = await toxiproxy.createProxy({ name: `${name}-${node.port}`, listen: `127.0.0.1:${port}`, upstream: `${node.host}:${node.port}` });
      proxies[`${node.host}:${node.port}`] = proxy.name;
      natMap[`${node.host}:${node.port}`] = { host: '127.0.0.1', port };
    }
  }
  const clients: Cluster[] = [];
  const startNodes = nodes.map((node) => natMap[`${node.host}:${node.port}`] ?? node);
  return {
    proxies,
    natMap,
    proxyOf: (port) => {
      const found = Object.entries(proxies).find(([address]) => address.endsWith(`:${port}`));
      if (!found) throw new Error(`no proxy in front of the Redis Cluster node on port ${port}`);
      return found[1];
    },
    client: (options = {}) => {
      const client = new Cluster(startNodes, { ...options, natMap });
      client.on('error', () => undefined); // a node's death is what some suites are about: commands report it
      clients.push(client);
      return client;
    },
    remove: async () => {
      for (const client of clients.splice(0)) client.disconnect();
      for (const proxy of Object.values(proxies)) await toxiproxy?.get(proxy).then((p) => p.remove()).catch(() => undefined);
    },
  };
}
