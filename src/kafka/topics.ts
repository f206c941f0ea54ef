/**
 * Topic names of the pipeline. Everything hangs off one prefix so each experiment has its own topics.
 *   <prefix>wallet.events            main topic, key = account id
 *   <prefix>wallet.events.retry-N    one topic per retry delay (non-blocking retries)
 *   <prefix>wallet.events.dlq        dead letters, with error headers
 */
import type { Admin, ITopicConfig, ITopicMetadata } from 'kafkajs';

export interface TopicNames {
  events: string;
  /** Retry topics in order; `retryDelaysMs[i]` is the delay before a record on `retry[i]` is retried. */
  retry: string[];
  retryDelaysMs: number[];
  dlq: string;
}

export function topicNames(prefix: string, retryDelaysMs: number[] = [500, 2000, 5000]): TopicNames {
  const base = `${prefix}wallet.events`;
  return { events: base, retry: retryDelaysMs.map((_, i) => `${base}.retry-${i + 1}`), retryDelaysMs, dlq: `${base}.dlq` };
}

/** Creates the topics (RF 3, min ISR 2 from the cluster defaults) if missing, and waits for their leaders. */
export async function ensureTopics(admin: Admin, names: TopicNames, partitions = 6): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const wanted = [names.events, ...names.retry, names.dlq].filter((topic) => !existing.has(topic));
  if (wanted.length === 0) return;
  // Another process (a second service, a parallel arm) may create them between listTopics and here.
  await createTopicsAndWait(admin, wanted.map((topic) => ({ topic, numPartitions: partitions })), { ifExists: 'accept' });
}

export interface CreateTopicsOptions {
  /** How long the topics may take to have a leader for every partition (default 30 s). */
  timeoutMs?: number;
  /** `accept`: a topic that already exists is fine (its leaders are still awaited); `fail` (default): throw. */
  ifExists?: 'accept' | 'fail';
}

/**
 * Creates topics and returns once every partition of every topic has a leader, as the metadata a
 * client fetches next reports it.
 *
 * kafkajs's `createTopics({ waitForLeaders: true })` cannot be used for this on Kafka 4.x (KRaft): it
 * asks one broker for the new topics' metadata right after CreateTopics and retries only
 * LEADER_NOT_AVAILABLE, but a broker that has not yet applied the controller's metadata record answers
 * UNKNOWN_TOPIC_OR_PARTITION, which kafkajs treats as final: the call fails although the topic was
 * created (most tries right after `lab up`, see tools/topic-create-check.ts). So: create without
 * waiting, then poll the metadata, treating any error as "not yet", until the deadline.
 */
export async function createTopicsAndWait(admin: Admin, topics: ITopicConfig[], options: CreateTopicsOptions = {}): Promise<void> {
  const { timeoutMs = 30_000, ifExists = 'fail' } = options;
  if (topics.length === 0) return;
  // kafkajs resolves false (instead of throwing) when some of the topics already existed.
  const createdAll = await admin.createTopics({ topics, waitForLeaders: false });
  if (!createdAll && ifExists === 'fail') throw new Error(`topic already exists: one of ${topics.map((t) => t.topic).join(', ')}`);

  const expected = new Map(topics.map((t) => [t.topic, t.replicaAssignment?.length ?? t.numPartitions]));
  const deadline = Date.now() + timeoutMs;
  let notReady = 'no metadata fetched yet';
  for (;;) {
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...expected.keys()] });
      const problems = topicProblems(metadata, expected);
      if (problems.length === 0) return;
      notReady = problems.join('; ');
    } catch (error) {
      notReady = error instanceof Error ? error.message : String(error); // e.g. not yet known to this broker
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`topics ${[...expected.keys()].join(', ')} not ready after ${timeoutMs} ms: ${notReady}`);
}

/**
 * Why the metadata does not show the topics ready yet: a topic missing, fewer partitions than expected
 * (`undefined` = the cluster's default, at least one), or a partition without a leader.
 */
export function topicProblems(metadata: ITopicMetadata[], expected: Map<string, number | undefined>): string[] {
  const problems: string[] = [];
  for (const [topic, partitions] of expected) {
    const found = metadata.find((t) => t.name === topic);
    if (!found || found.partitions.length === 0) {
      problems.push(`${topic} has no partitions yet`);
      continue;
    }
    if (partitions !== undefined && partitions > 0 && found.partitions.length !== partitions) {
      problems.push(`${topic} has ${found.partitions.length} of ${partitions} partitions`);
    }
    const leaderless = found.partitions.filter((p) => p.leader < 0).map((p) => p.partitionId);
    if (leaderless.length) problems.push(`${topic} partitions ${leaderless.join(',')} have no leader`);
  }
  return problems;
}
