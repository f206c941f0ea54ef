/**
 * An independent observer of partition leadership: polls a topic's metadata through a client that
 * bypasses Toxiproxy (lab/infra/clients.ts directKafka) and records every leader change it sees.
 * Experiments use it to show that a broker fault really moved leadership while work was in flight
 * (a "sometimes" expectation: a broker kill that moved no leader proves nothing about leader moves).
 *
 *   const leaders = await LeaderObserver.start(env, topic);
 *   …faults…
 *   leaders.current(0)      // the leader of partition 0 now (last sample)
 *   await leaders.stop()    // → every change seen: { partition, from, to, at }
 *
 * A paused broker can hold a metadata request until the client's request timeout: requests are
 * bounded at 2 s and a failed sample is skipped (the next one catches up).
 */
import type { Admin } from 'kafkajs';
import { directKafka } from '../infra/clients.ts';
import type { LabEnvironment } from '../infra/environment.ts';
import { waitFor } from '../infra/ports.ts';
import { createTopicsAndWait } from '../../src/contract.ts';

/** Creates a one-partition topic led by `leader` (replica assignment) and waits until it is. */
export async function createTopicLedBy(env: LabEnvironment, admin: Admin, topic: string, leader: number): Promise<void> {
  const others = env.descriptor.kafka.brokers.map((b) => b.id).filter((b) => b !== leader);
  await createTopicsAndWait(admin, [{ topic, replicaAssignment: [{ partition: 0, replicas: [leader, ...others] }] }]);
  await waitFor(`broker ${leader} to lead ${topic}`, async () => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions[0]?.leader === leader, { timeoutMs: 30_000 });
}

export interface LeaderChange {
  partition: number;
  from: number;
  to: number;
  /** Epoch ms of the sample that saw the change. */
  at: number;
}

export class LeaderObserver {
  readonly changes: LeaderChange[] = [];
  private readonly leaders = new Map<number, number>();
  private running = true;
  private loop?: Promise<void>;

  private constructor(
    private readonly admin: Admin,
    readonly topic: string,
  ) {}

  static async start(env: LabEnvironment, topic: string, intervalMs = 250): Promise<LeaderObserver> {
    const admin = (await directKafka(env, `leader-observer-${process.pid}`, { requestTimeout: 2000, retry: { retries: 0 } })).admin();
    await admin.connect();
    const observer = new LeaderObserver(admin, topic);
    // A topic created a moment ago may not be in every broker's metadata yet (UNKNOWN_TOPIC_OR_PARTITION
    // from the broker asked): the first sample is retried until it sees the partitions.
    await waitFor(`the leaders of ${topic}`, async () => {
      await observer.sample();
      return observer.leaders.size > 0;
    }, { timeoutMs: 30_000, intervalMs: 100 });
    observer.loop = (async () => {
      while (observer.running) {
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
        await observer.sample().catch(() => undefined);
      }
    })();
    return observer;
  }

  private async sample(): Promise<void> {
    const metadata = await this.admin.fetchTopicMetadata({ topics: [this.topic] });
    const now = Date.now();
    for (const partition of metadata.topics[0]?.partitions ?? []) {
      const before = this.leaders.get(partition.partitionId);
      if (before !== undefined && before !== partition.leader) this.changes.push({ partition: partition.partitionId, from: before, to: partition.leader, at: now });
      this.leaders.set(partition.partitionId, partition.leader);
    }
  }

  /** The leader of `partition` at the last sample (undefined before the first). */
  current(partition: number): number | undefined {
    return this.leaders.get(partition);
  }

  partitions(): number[] {
    return [...this.leaders.keys()].sort((a, b) => a - b);
  }

  async stop(): Promise<LeaderChange[]> {
    this.running = false;
    await this.loop;
    await this.admin.disconnect().catch(() => undefined);
    return this.changes;
  }
}
