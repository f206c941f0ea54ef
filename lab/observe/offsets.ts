/**
 * A partition's three offsets read from outside every client under test, straight from each broker
 * (past Toxiproxy) with Kafka's ListOffsets (latest):
 *
 *   LEO of a replica  replica_id -2 (the debugging replica id), asked of that replica: its log end offset,
 *                     answered by followers too;
 *   HW                replica_id -1, isolation READ_UNCOMMITTED, asked of the leader;
 *   LSO               replica_id -1, isolation READ_COMMITTED, asked of the leader.
 *
 *   const probe = await OffsetProbe.open(env, topic);
 *   await probe.read(0)          // { leader: 1, isr: [1, 2, 3], leo: { 1: 12, 2: 12, 3: 9 }, hw: 9, lso: 7 }
 *   const timeline = probe.timeline(history, [0]);   // samples every 200 ms into the history ('offsets p0')
 *   await timeline.stop();  await probe.close();
 *
 * kafkajs cannot ask these: its admin sends ListOffsets to leaders only, with replica_id -1 and the
 * cluster's isolation level (READ_COMMITTED for an admin: `fetchTopicOffsets` gives the LSO, not the HW).
 * @platformatic/kafka exposes the protocol's ListOffsets v9 on a plain connection: that is used here.
 * A broker that does not answer within `requestTimeoutMs` (SIGSTOPped) has no value in that sample.
 */
import { Connection, listOffsetsV9, metadataV12 } from '@platformatic/kafka';
import type { History } from '../history/history.ts';
import type { LabEnvironment } from '../infra/environment.ts';

const LATEST = -1n;
export const replicaIds = { consumer: -1, debugging: -2 } as const;
export const isolation = { readUncommitted: 0, readCommitted: 1 } as const;

export interface PartitionOffsets {
  partition: number;
  leader: number;
  isr: number[];
  /** Log end offset per replica (broker id); a broker that did not answer is missing. */
  leo: Record<number, number>;
  hw?: number;
  lso?: number;
}

/** The values one sample of a partition puts into the history: `LEO b1` …, `HW`, `LSO`. */
export function offsetValues(offsets: PartitionOffsets, brokers: readonly number[]): Record<string, number | undefined> {
  return { ...Object.fromEntries(brokers.map((b) => [`LEO b${b}`, offsets.leo[b]])), HW: offsets.hw, LSO: offsets.lso };
}

export class OffsetProbe {
  private readonly connections = new Map<number, Promise<Connection>>();
  private readonly leaders = new Map<number, { leader: number; isr: number[] }>();

  private constructor(
    private readonly addresses: Map<number, { host: string; port: number }>,
    readonly topic: string,
    private readonly requestTimeoutMs: number,
  ) {}

  static async open(env: LabEnvironment, topic: string, requestTimeoutMs = 1500): Promise<OffsetProbe> {
    const upstreams = new Map<string, string>();
    for (const proxy of Object.values((await env.toxiproxy?.getAll()) ?? {})) upstreams.set(proxy.listen.replace(/^localhost:/, '127.0.0.1:'), proxy.upstream);
    const addresses = new Map(env.descriptor.kafka.brokers.map((b) => {
      const [host, port] = (upstreams.get(b.address) ?? b.address).split(':');
      return [b.id, { host: host!, port: Number(port) }] as const;
    }));
    return new OffsetProbe(addresses, topic, requestTimeoutMs);
  }

  get brokers(): number[] {
    return [...this.addresses.keys()].sort((a, b) => a - b);
  }

  private connection(broker: number): Promise<Connection> {
    let connection = this.connections.get(broker);
    if (!connection) {
      const { host, port } = this.addresses.get(broker)!;
      const c = new Connection(`offset-probe-${process.pid}`, { connectTimeout: this.requestTimeoutMs, requestTimeout: this.requestTimeoutMs });
      connection = Promise.resolve(c.connect(host, port)).then(() => c);
      this.connections.set(broker, connection);
    }
    return connection;
  }

  /** One request to `broker`; undefined when it failed or did not answer in time (its connection is then dropped). */
  private async ask<T>(broker: number, request: (connection: Connection) => Promise<T>): Promise<T | undefined> {
    const connection = this.connection(broker);
    try {
      return await request(await connection);
    } catch {
      if (this.connections.get(broker) === connection) this.connections.delete(broker);
      void connection.then((c) => c.close()).catch(() => undefined);
      return undefined;
    }
  }

  /** ListOffsets (latest) of `partitions` on one broker; undefined when it did not answer. */
  async listOffsets(broker: number, partitions: number[], replicaId: number, isolationLevel: number): Promise<Map<number, number> | undefined> {
    const response = await this.ask(broker, (c) => listOffsetsV9.api.async(c, replicaId, isolationLevel, [{ name: this.topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp: LATEST })) }]));
    return response && new Map(response.topics[0]!.partitions.filter((p) => p.errorCode === 0).map((p) => [p.partitionIndex, Number(p.offset)]));
  }

  /**
   * Leader and ISR per partition from the first broker that answers Metadata (a stopped broker must not
   * hold the sample); the last known ones when none did.
   */
  private async metadata(): Promise<void> {
    const answer = await Promise.any(this.brokers.map(async (b) => (await this.ask(b, (c) => metadataV12.api.async(c, [this.topic], false, false))) ?? Promise.reject(new Error(`broker ${b} did not answer`)))).catch(() => undefined);
    for (const p of answer?.topics[0]?.partitions ?? []) this.leaders.set(p.partitionIndex, { leader: p.leaderId, isr: [...p.isrNodes].sort((a, b) => a - b) });
  }

  /** Every replica's LEO and the leader's HW and LSO of `partitions`, asked at once. */
  async read(partitions: number[] = [0]): Promise<PartitionOffsets[]> {
    await this.metadata();
    const leos = new Map(await Promise.all(this.brokers.map(async (b) => [b, await this.listOffsets(b, partitions, replicaIds.debugging, isolation.readUncommitted)] as const)));
    const byLeader = new Map<number, number[]>();
    for (const p of partitions) {
      const leader = this.leaders.get(p)?.leader;
      if (leader !== undefined && leader >= 0) byLeader.set(leader, [...(byLeader.get(leader) ?? []), p]);
    }
    const marks = new Map<number, { hw?: number; lso?: number }>();
    await Promise.all([...byLeader].map(async ([leader, ps]) => {
      const [hw, lso] = await Promise.all([this.listOffsets(leader, ps, replicaIds.consumer, isolation.readUncommitted), this.listOffsets(leader, ps, replicaIds.consumer, isolation.readCommitted)]);
      for (const p of ps) marks.set(p, { ...(hw?.has(p) ? { hw: hw.get(p)! } : {}), ...(lso?.has(p) ? { lso: lso.get(p)! } : {}) });
    }));
    return partitions.map((partition) => {
      const leo: Record<number, number> = {};
      for (const [broker, offsets] of leos) if (offsets?.has(partition)) leo[broker] = offsets.get(partition)!;
      return { partition, leader: this.leaders.get(partition)?.leader ?? -1, isr: this.leaders.get(partition)?.isr ?? [], leo, ...marks.get(partition) };
    });
  }

  /**
   * Samples `partitions` every `intervalMs` into `history` (series `offsets p<N>`: LEO per replica, HW,
   * LSO; `ISR p<N>`: its size) until stopped; `last` is the latest sample of each partition, `samples`
   * every sample with its history time.
   */
  timeline(history: History, partitions: number[] = [0], intervalMs = 200) {
    let running = true;
    const last = new Map<number, PartitionOffsets>();
    const samples: Array<PartitionOffsets & { at: number }> = [];
    const loop = (async () => {
      while (running) {
        const at = history.now();
        const read = await this.read(partitions).catch(() => []);
        for (const offsets of read) {
          last.set(offsets.partition, offsets);
          samples.push({ ...offsets, at });
          history.sample(`offsets p${offsets.partition}`, offsetValues(offsets, this.brokers), at);
          history.sample(`ISR p${offsets.partition}`, { 'in-sync replicas': offsets.isr.length }, at);
        }
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    })();
    return { last, samples, stop: async () => void ((running = false), await loop) };
  }

  async close(): Promise<void> {
    await Promise.all([...this.connections.values()].map((c) => c.then((x) => x.close()).catch(() => undefined)));
  }
}

/**
 * The offsets in [from, to) that `seen` does not hold: the gaps a read_committed reader meets where
 * aborted records and transaction markers (commit/abort) sit. Counted exactly, never inferred.
 */
export function offsetGaps(seen: Iterable<number>, from: number, to: number): number[] {
  const held = new Set(seen);
  const gaps: number[] = [];
  for (let offset = from; offset < to; offset++) if (!held.has(offset)) gaps.push(offset);
  return gaps;
}
