/**
 * Topic names of the pipeline. Everything hangs off one prefix so each experiment has its own topics.
 *   <prefix>wallet.events            main topic, key = account id
 *   <prefix>wallet.events.retry-N    one topic per retry delay (non-blocking retries)
 *   <prefix>wallet.events.dlq        dead letters, with error headers
 */
import type { Admin } from 'kafkajs';

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

/** Creates the topics (RF 3, min ISR 2 from the cluster defaults) if missing. */
export async function ensureTopics(admin: Admin, names: TopicNames, partitions = 6): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const wanted = [names.events, ...names.retry, names.dlq].filter((topic) => !existing.has(topic));
  if (wanted.length === 0) return;
  await admin.createTopics({ topics: wanted.map((topic) => ({ topic, numPartitions: partitions })), waitForLeaders: true });
}
