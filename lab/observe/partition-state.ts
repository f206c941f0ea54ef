/**
 * A partition's leadership as the cluster records it, read from outside with Kafka's own topic tool
 * (`kafka-topics.sh --describe`, TopicCommand): leader, ISR and — with KIP-966 eligible leader replicas,
 * which kafkajs's metadata cannot show — the ELR and last-known ELR. And how a new leader was elected,
 * judged from the state before the old one went: from the ISR (clean), from the ELR (clean: ELR members
 * hold everything up to the high watermark), or from neither (unclean: records the old leader acknowledged
 * can be gone).
 *
 *   const before = await describePartition(env, topic);   // { leader: 1, isr: [1], elr: [2, 3], … }
 *   …the leader dies, another is elected…
 *   electionKind(before, (await describePartition(env, topic)).leader)   // 'elr'
 */
import type { LabEnvironment } from '../infra/environment.ts';
import { runKafkaTool } from '../infra/kafka-tools.ts';

export interface PartitionState {
  /** -1: no leader ("none"). */
  leader: number;
  replicas: number[];
  isr: number[];
  elr: number[];
  lastKnownElr: number[];
}

const ids = (field: string | undefined): number[] => (field ?? '').split(',').map((s) => s.trim()).filter((s) => /^\d+$/.test(s)).map(Number);

/** The `Partition: <n>` line of TopicCommand's describe output, parsed (undefined when absent). */
export function parsePartitionLine(output: string, partition = 0): PartitionState | undefined {
  const line = output.split('\n').find((l) => new RegExp(`\\bPartition:\\s*${partition}\\b`).test(l) && /\bLeader:/.test(l));
  if (!line) return undefined;
  const field = (name: string) => new RegExp(`\\b${name}: *([^\\t]*)`).exec(line)?.[1]?.trim();
  const leader = field('Leader');
  return { leader: leader && /^\d+$/.test(leader) ? Number(leader) : -1, replicas: ids(field('Replicas')), isr: ids(field('Isr')), elr: ids(field('Elr')), lastKnownElr: ids(field('LastKnownElr')) };
}

/**
 * TopicCommand --describe of one topic's partition, through `bootstrap` (default: every broker's client
 * address; leave out a paused broker: the tool would wait for its answer until its request timeout).
 */
export async function describePartition(env: LabEnvironment, topic: string, partition = 0, bootstrap = env.brokers): Promise<PartitionState> {
  const { stdout } = await runKafkaTool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', bootstrap.join(','), '--describe', '--topic', topic], { heapMb: 128 });
  const state = parsePartitionLine(stdout, partition);
  if (!state) throw new Error(`kafka-topics --describe printed no line for ${topic}-${partition}:\n${stdout.slice(-2000)}`);
  return state;
}

export type ElectionKind = 'none' | 'same' | 'clean' | 'elr' | 'unclean';

/** How `leader` came to lead, judged against the partition's state before its previous leader went. */
export function electionKind(before: Pick<PartitionState, 'leader' | 'isr' | 'elr'>, leader: number): ElectionKind {
  if (leader < 0) return 'none';
  if (leader === before.leader) return 'same';
  if (before.isr.includes(leader)) return 'clean';
  if (before.elr.includes(leader)) return 'elr';
  return 'unclean';
}

/** The brokers the controller has unfenced (they may lead), by Kafka's cluster tool (`kafka-cluster.sh list-endpoints`). */
export async function unfencedBrokers(bootstrap: string[]): Promise<number[]> {
  const { stdout } = await runKafkaTool('org.apache.kafka.tools.ClusterTool', ['list-endpoints', '--bootstrap-server', bootstrap.join(',')], { heapMb: 128 });
  return parseUnfenced(stdout);
}

/** The ids of ClusterTool list-endpoints' `unfenced` broker rows. */
export function parseUnfenced(output: string): number[] {
  return [...output.matchAll(/^(\d+)\s+\S+\s+\d+\s+\S+\s+unfenced\s+broker\b/gm)].map((m) => Number(m[1]));
}
