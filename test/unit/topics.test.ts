import type { Admin, ITopicConfig, ITopicMetadata, PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createTopicsAndWait, ensureTopics, topicNames } from '../../src/kafka/topics.ts';

/**
 * An in-memory admin that behaves like kafkajs against Kafka 4.3 right after `lab up`: CreateTopics
 * succeeds, but the broker that answers the next metadata requests applies the new topic only after a
 * few requests (`unknownFor` answers UNKNOWN_TOPIC_OR_PARTITION), and its partitions get leaders later still
 * (`leaderlessFor` answers with leader -1).
 * kafkajs's waitForLeaders gives up on that first UNKNOWN_TOPIC_OR_PARTITION, so the fake does too.
 */
function kraftAdmin({ unknownFor = 3, leaderlessFor = 1, neverLeaders = false } = {}) {
  const topics = new Map<string, { partitions: number; requests: number }>();
  const calls: Array<{ waitForLeaders: boolean | undefined }> = [];
  const unknown = () => Object.assign(new Error('This server does not host this topic-partition'), { type: 'UNKNOWN_TOPIC_OR_PARTITION' });
  const metadataOf = (name: string): ITopicMetadata => {
    const topic = topics.get(name);
    if (!topic || topic.requests <= unknownFor) throw unknown();
    const leader = neverLeaders || topic.requests <= unknownFor + leaderlessFor ? -1 : 1;
    const partitions: PartitionMetadata[] = Array.from({ length: topic.partitions }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader, replicas: [1, 2, 3], isr: [1, 2, 3] }));
    return { name, partitions };
  };
  const admin = {
    async listTopics() {
      return [...topics.keys()];
    },
    async createTopics({ topics: wanted, waitForLeaders = true }: { topics: ITopicConfig[]; waitForLeaders?: boolean }) {
      calls.push({ waitForLeaders });
      let createdAll = true;
      for (const t of wanted) {
        if (topics.has(t.topic)) createdAll = false;
        else topics.set(t.topic, { partitions: t.replicaAssignment?.length ?? t.numPartitions ?? 3, requests: 0 });
      }
      if (waitForLeaders) for (const t of wanted) metadataOf(t.topic); // kafkajs: bails on UNKNOWN_TOPIC_OR_PARTITION
      return createdAll;
    },
    async fetchTopicMetadata({ topics: names }: { topics: string[] }) {
      for (const name of names) {
        const topic = topics.get(name);
        if (topic) topic.requests += 1;
      }
      return { topics: names.map(metadataOf) };
    },
  };
  return { admin: admin as unknown as Admin, calls, topics };
}

describe('topic creation on KRaft', () => {
  it('ensureTopics survives a broker that does not know the new topics yet, and returns once they have leaders', async () => {
    const { admin, topics } = kraftAdmin();
    await ensureTopics(admin, topicNames('t_'), 6);
    expect([...topics.keys()]).toEqual(['t_wallet.events', 't_wallet.events.retry-1', 't_wallet.events.retry-2', 't_wallet.events.retry-3', 't_wallet.events.dlq']);
    // Returned only after the metadata showed leaders (3 unknown answers, 1 leaderless, then ready).
    for (const topic of topics.values()) expect(topic.requests).toBeGreaterThanOrEqual(5);
  });

  it('createTopicsAndWait never uses kafkajs waitForLeaders and waits for the expected partition count', async () => {
    const { admin, calls } = kraftAdmin();
    await createTopicsAndWait(admin, [{ topic: 'a', numPartitions: 6 }, { topic: 'b', replicaAssignment: [{ partition: 0, replicas: [2, 1, 3] }] }]);
    expect(calls).toEqual([{ waitForLeaders: false }]);
  });

  it('fails with a clear error naming the leaderless partitions when the deadline passes', async () => {
    const { admin } = kraftAdmin({ unknownFor: 0, neverLeaders: true });
    await expect(createTopicsAndWait(admin, [{ topic: 'stuck', numPartitions: 2 }], { timeoutMs: 300 })).rejects.toThrow(
      /topics stuck not ready after 300 ms: stuck partitions 0,1 have no leader/,
    );
  });

  it('an existing topic fails by default and is accepted (its leaders still awaited) with ifExists: accept', async () => {
    const { admin } = kraftAdmin({ unknownFor: 0, leaderlessFor: 0 });
    await createTopicsAndWait(admin, [{ topic: 'x', numPartitions: 1 }]);
    await expect(createTopicsAndWait(admin, [{ topic: 'x', numPartitions: 1 }])).rejects.toThrow(/already exists/);
    await createTopicsAndWait(admin, [{ topic: 'x', numPartitions: 1 }], { ifExists: 'accept' });
  });
});
