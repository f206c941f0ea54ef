/**
 * Redis Cluster seen from outside the clients under test: a plain connection straight to each node (no
 * proxy, no cluster client, no retries), asking what the nodes themselves say — roles and slots
 * (CLUSTER NODES), per-command calls (INFO commandstats), error replies by kind (INFO errorstats:
 * MOVED, ASK, CROSSSLOT, TRYAGAIN, NOREPLICAS …), and which keys each node holds (SCAN).
 *
 *   const observer = new RedisClusterObserver(env);
 *   const { masters } = await observer.topology();              // from a node that answers
 *   await observer.resetStats();                                 // CONFIG RESETSTAT on every node
 *   const calls = await observer.calls(['get', 'set']);          // port → calls, masters and replicas
 *   const holders = await observer.keysByNode('lab_e010_x:');    // port → keys (the loss, counted by the nodes)
 */
import { Redis } from 'ioredis';
import type { LabEnvironment } from '../infra/environment.ts';
import { redisClusterReady } from '../infra/local/redis-cluster.ts';
import { waitFor } from '../infra/ports.ts';

export interface ClusterNode {
  id: string;
  host: string;
  port: number;
  flags: string[];
  /** The master's id, for a replica. */
  master?: string;
  /** Slot ranges served (masters), as `[first, last]`. */
  slots: Array<[number, number]>;
}

/** `CLUSTER NODES`: one line per node (`<id> <ip:port@bus> <flags> <master|-> … <link-state> <slot ranges…>`). */
export function parseClusterNodes(text: string): ClusterNode[] {
  return text.trim().split(/\r?\n/).filter(Boolean).map((line) => {
    const [id = '', address = '', flags = '', master = '-', , , , , ...slots] = line.trim().split(' ');
    const [hostPort = ''] = address.split('@');
    const at = hostPort.lastIndexOf(':');
    return {
      id,
      host: hostPort.slice(0, at),
      port: Number(hostPort.slice(at + 1)),
      flags: flags.split(','),
      ...(master !== '-' ? { master } : {}),
      // Migrating/importing markers (`[42->-id]`) are not served ranges.
      slots: slots.filter((s) => !s.startsWith('[')).map((s) => {
        const [first, last = first] = s.split('-').map(Number);
        return [first!, last!] as [number, number];
      }),
    };
  });
}

/** An INFO section's `name:k=v,k=v` lines as name → numbers (`cmdstat_get` → `{ calls: 3, … }`). */
export function parseInfoStats(text: string, prefix: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith(prefix)) continue;
    const at = line.indexOf(':');
    out[line.slice(prefix.length, at)] = Object.fromEntries(line.slice(at + 1).split(',').map((kv) => kv.split('=')).map(([k, v]) => [k!, Number(v)]));
  }
  return out;
}

export const slotCount = (node: ClusterNode) => node.slots.reduce((sum, [first, last]) => sum + last - first + 1, 0);
export const servesSlot = (node: ClusterNode, slot: number) => node.slots.some(([first, last]) => slot >= first && slot <= last);

export class RedisClusterObserver {
  private readonly connections = new Map<number, Redis>();
  readonly ports: number[];

  constructor(env: LabEnvironment) {
    const nodes = env.descriptor.redisCluster?.nodes;
    if (!nodes) throw new Error('no Redis Cluster in this environment: the suite must require labEnvironment({ redisCluster: true })');
    this.ports = nodes.map((n) => n.port);
  }

  /** A plain connection to one node; fails at once when the node does not answer (it may be killed or paused). */
  node(port: number): Redis {
    let client = this.connections.get(port);
    if (!client) {
      client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 2000, retryStrategy: () => null, enableOfflineQueue: true });
      client.on('error', () => undefined); // surfaced by the command that needed it
      this.connections.set(port, client);
    }
    if (client.status === 'end') {
      this.connections.delete(port);
      return this.node(port);
    }
    return client;
  }

  /** `command` on every node that answers: port → reply (nodes that do not answer are left out). */
  async onEach<T>(ask: (node: Redis) => Promise<T>, ports = this.ports): Promise<Map<number, T>> {
    const answers = await Promise.all(ports.map(async (port) => [port, await ask(this.node(port)).catch(() => undefined)] as const));
    return new Map(answers.filter((a): a is readonly [number, Awaited<T>] => a[1] !== undefined));
  }

  /** The cluster as node `port` (else the first node that answers) sees it. */
  async topology(port?: number): Promise<{ nodes: ClusterNode[]; masters: ClusterNode[]; replicas: ClusterNode[]; state: string }> {
    for (const at of port !== undefined ? [port] : this.ports) {
      const text = await this.node(at).call('CLUSTER', 'NODES').catch(() => undefined);
      if (text === undefined) continue;
      const info = String(await this.node(at).call('CLUSTER', 'INFO').catch(() => ''));
      const nodes = parseClusterNodes(String(text));
      const live = nodes.filter((n) => !n.flags.includes('fail') && !n.flags.includes('noaddr'));
      return { nodes, masters: live.filter((n) => n.flags.includes('master')), replicas: live.filter((n) => n.flags.includes('slave')), state: /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown' };
    }
    throw new Error('no Redis Cluster node answers');
  }

  /** The slot of `key`, as the cluster computes it (CRC16 of the hash tag or key, mod 16384). */
  async slotOf(key: string): Promise<number> {
    for (const port of this.ports) {
      const slot = await this.node(port).call('CLUSTER', 'KEYSLOT', key).catch(() => undefined);
      if (slot !== undefined) return Number(slot);
    }
    throw new Error('no Redis Cluster node answers');
  }

  /**
   * A master's replication stream as `INFO` reports it in one snapshot: its offset, the bytes it has
   * written to replica sockets so far (`total_net_repl_output_bytes`: what left the process for the
   * kernel), the offsets its replicas acknowledged, and how many replicas count as good for
   * `min-replicas-to-write` (`min_slaves_good_slaves`, present while that setting is on).
   */
  async replication(port: number): Promise<{ offset: number; sentBytes: number; replicaOffsets: number[]; goodReplicas?: number; linkUp: boolean }> {
    const text = String(await this.node(port).info());
    const field = (name: string) => text.split(/\r?\n/).find((line) => line.startsWith(`${name}:`))?.slice(name.length + 1);
    const good = field('min_slaves_good_slaves');
    return {
      offset: Number(field('master_repl_offset')),
      sentBytes: Number(field('total_net_repl_output_bytes')),
      // Only replicas past their initial sync (`state=online`): one still waiting for its RDB shows offset 0.
      replicaOffsets: [...text.matchAll(/^slave\d+:.*\bstate=online,offset=(\d+)/gm)].map((m) => Number(m[1])),
      linkUp: field('master_link_status') === 'up',
      ...(good !== undefined ? { goodReplicas: Number(good) } : {}),
    };
  }

  /** Waits until node `id` serves slots as a master and a node other than `not` reports the cluster ok. */
  async waitForPromotion(id: string, not: number, timeoutMs = 60_000): Promise<void> {
    const asked = this.ports.filter((p) => p !== not);
    await waitFor(`Redis Cluster node ${id} promoted to master`, async () => {
      for (const port of asked) {
        const seen = await this.topology(port).catch(() => undefined);
        const node = seen?.nodes.find((n) => n.id === id);
        if (seen?.state === 'ok' && node?.flags.includes('master') && node.slots.length > 0) return true;
      }
      return false;
    }, { timeoutMs, intervalMs: 100 });
  }

  /**
   * Every node answers, reports the cluster ok and sees three masters and three replicas, and every
   * replica has finished its sync (`master_link_status:up`). The component's readiness stops short of
   * the last: right after `--cluster create` a replica waits for its master's diskless sync (5 s delay),
   * and a master killed before that has a replica that refuses to fail over ("Disconnected from master
   * for longer than allowed").
   */
  async waitHealthy(timeoutMs = 120_000): Promise<void> {
    await waitFor('Redis Cluster healthy (all nodes ok, 3 masters, 3 replicas in sync)', async () => {
      if (!(await redisClusterReady(this.ports.map((port) => ({ host: '127.0.0.1', port }))))) return false;
      const { replicas } = await this.topology();
      return replicas.length === this.ports.length / 2 && (await Promise.all(replicas.map(async (r) => (await this.replication(r.port)).linkUp))).every(Boolean);
    }, { timeoutMs, intervalMs: 500 });
  }

  /** Deletes the keys under `prefix` on every master (single-key UNLINKs: no cross-slot command). */
  async deleteKeys(prefix: string): Promise<void> {
    const { masters } = await this.topology();
    const held = await this.keysByNode(prefix, masters.map((m) => m.port));
    for (const [port, keys] of held) {
      const all = [...keys];
      for (let at = 0; at < all.length; at += 1000) {
        const pipeline = this.node(port).pipeline();
        for (const key of all.slice(at, at + 1000)) pipeline.unlink(key);
        await pipeline.exec();
      }
    }
  }

  /** Per node: calls of the given commands since the last reset (INFO commandstats). */
  async calls(commands: string[]): Promise<Map<number, number>> {
    const stats = await this.onEach(async (node) => parseInfoStats(String(await node.info('commandstats')), 'cmdstat_'));
    return new Map([...stats].map(([port, s]) => [port, commands.reduce((sum, c) => sum + (s[c]?.['calls'] ?? 0), 0)]));
  }

  /** Error replies by kind, summed over the nodes (INFO errorstats: `MOVED`, `ASK`, `CROSSSLOT` …). */
  async errors(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const stats of (await this.onEach(async (node) => parseInfoStats(String(await node.info('errorstats')), 'errorstat_'))).values()) {
      for (const [kind, { count = 0 }] of Object.entries(stats)) out[kind] = (out[kind] ?? 0) + count;
    }
    return out;
  }

  async resetStats(): Promise<void> {
    await this.onEach((node) => node.call('CONFIG', 'RESETSTAT'));
  }

  /** Keys under `prefix` that each node holds (SCAN, masters and replicas alike). */
  async keysByNode(prefix: string, ports = this.ports): Promise<Map<number, Set<string>>> {
    return this.onEach(async (node) => {
      const keys = new Set<string>();
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        for (const key of batch) keys.add(key);
      } while (cursor !== '0');
      return keys;
    }, ports);
  }

  close(): void {
    for (const client of this.connections.values()) client.disconnect();
    this.connections.clear();
  }
}
