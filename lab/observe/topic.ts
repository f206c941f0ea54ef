/**
 * An independent observer of a topic: a fresh read_committed consumer group reads from the beginning
 * until `expected` records arrived and then a quiet period passed (so duplicates beyond the expected
 * count still show up), or until the timeout. Never shares code paths with the services it checks.
 */
import type { Admin } from 'kafkajs';
import type { LabEnvironment } from '../infra/environment.ts';
import { kafka } from '../infra/clients.ts';
import { EnvelopeSerde, eventHeaders, readHeaders, RegistrySchemaSource, type KafkaHeaders } from '../../src/contract.ts';

export interface ObservedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  eventId: string | undefined;
  headers: KafkaHeaders;
  value: Buffer | null;
  timestamp: number;
}

export async function readTopic(
  env: LabEnvironment,
  topic: string,
  options: { expected?: number; quietMs?: number; timeoutMs?: number; readUncommitted?: boolean } = {},
): Promise<ObservedRecord[]> {
  const { expected = 0, quietMs = 1500, timeoutMs = 120_000 } = options;
  const groupId = `observer-${topic}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const consumer = kafka(env, groupId).consumer({ groupId, readUncommitted: options.readUncommitted ?? false, maxWaitTimeInMs: 200 });
  const records: ObservedRecord[] = [];
  let lastArrival = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const headers = readHeaders(message.headers);
          records.push({
            topic,
            partition: batch.partition,
            offset: Number(message.offset),
            key: message.key?.toString() ?? null,
            eventId: headers[eventHeaders.eventId],
            headers,
            value: message.value,
            timestamp: Number(message.timestamp),
          });
        }
        lastArrival = Date.now();
      },
    });
    const deadline = Date.now() + timeoutMs;
    const started = Date.now();
    while (Date.now() < deadline) {
      if (records.length >= expected && Date.now() - Math.max(lastArrival, started) >= quietMs) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await consumer.disconnect();
    // A group per observation: delete it, or every run leaves offsets behind in __consumer_offsets.
    const admin = kafka(env, `${groupId}-admin`).admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** `readTopic` of an events topic, each value decoded as the pipeline contract's envelope (the topic's registry subject). */
export async function readEnvelopes(env: LabEnvironment, topic: string, options: Parameters<typeof readTopic>[2] = {}) {
  const serde = new EnvelopeSerde(new RegistrySchemaSource(env.descriptor.schemaRegistry.url), { subject: `${topic}-value` });
  return Promise.all((await readTopic(env, topic, options)).map(async (r) => ({ ...r, envelope: await serde.decode(r.value) })));
}

/**
 * `ask`, asked again while the broker that answers does not know a fresh topic yet. Metadata reaches the
 * brokers one by one after a topic is created, and kafkajs's admin asks a random connected broker, so a
 * topic `createTopicsAndWait` saw ready can still be unknown to the next broker asked:
 * - fetchTopicMetadata throws UNKNOWN_TOPIC_OR_PARTITION ("This server does not host this
 *   topic-partition"): a CI run's E-000 failed on it on the containers provider;
 * - fetchTopicOffsets (kafkajs 2.2.4) throws `TypeError: Cannot destructure property 'partitions' of
 *   'high.pop(...)'` on empty partition metadata (admin/index.js): a CI run's E-005 failed on it.
 */
export async function whileTopicUnknown<T>(ask: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await ask();
    } catch (error) {
      const unknownTopic = error instanceof TypeError || (error as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION';
      if (!unknownTopic || Date.now() >= deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A topic's watermarks per partition (`admin.fetchTopicOffsets`, asked again while the topic is unknown). */
export const watermarks = (admin: Pick<Admin, 'fetchTopicOffsets'>, topic: string, timeoutMs?: number) => whileTopicUnknown(() => admin.fetchTopicOffsets(topic), timeoutMs);

/** A topic's metadata (partitions, leaders, replicas), asked again while the topic is unknown. */
export const topicMetadata = async (admin: Pick<Admin, 'fetchTopicMetadata'>, topic: string, timeoutMs?: number) =>
  (await whileTopicUnknown(() => admin.fetchTopicMetadata({ topics: [topic] }), timeoutMs)).topics[0]!;

/** Records a topic holds now (high − low watermark, summed over partitions). */
export async function recordCount(admin: Pick<Admin, 'fetchTopicOffsets'>, topic: string): Promise<number> {
  return (await watermarks(admin, topic)).reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

/** Has `groupId` committed every offset of `topic` up to the high watermark? */
export async function caughtUp(admin: Admin, groupId: string, topic: string): Promise<boolean> {
  const high = await watermarks(admin, topic);
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  return high.every((p) => Number(p.high) === 0 || at.get(p.partition) === Number(p.high));
}
