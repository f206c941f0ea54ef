/**
 * The relay's proof that a batch was appended: every partition its messages were partitioned to has an
 * acknowledgement in send()'s response (kafkajs can resolve a send that skipped a partition, #1303).
 */
import type { Message, RecordMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { UnacknowledgedPartitionsError, unacknowledgedPartitions } from '../../src/kafka/event-publisher.ts';
import { sendOne } from '../../src/kafka/send-one.ts';

const topic = 'wallet.events';
const messages: Message[] = [{ key: 'a', value: 'a' }, { key: 'b', value: 'b' }, { key: 'c', value: 'c' }];
const partitions = new Map<Message, number>([
  [messages[0]!, 0],
  [messages[1]!, 1],
  [messages[2]!, 1],
]);
const ack = (partition: number, errorCode = 0, t = topic): RecordMetadata => ({ topicName: t, partition, errorCode, baseOffset: '7' });

describe('unacknowledgedPartitions', () => {
  it('is empty when every partition of the batch is acknowledged', () => {
    expect(unacknowledgedPartitions(topic, messages, (m) => partitions.get(m), [ack(1), ack(0)])).toEqual({ missing: [], acknowledged: [0, 1] });
  });

  it('names a partition missing from the response (the leader-move case)', () => {
    expect(unacknowledgedPartitions(topic, messages, (m) => partitions.get(m), [ack(0)])).toEqual({ missing: [1], acknowledged: [0] });
  });

  it('does not count an error code, another topic or an entry without offset as an acknowledgement', () => {
    const noOffset: RecordMetadata = { topicName: topic, partition: 0, errorCode: 0 };
    expect(unacknowledgedPartitions(topic, messages, (m) => partitions.get(m), [noOffset, ack(1, 6), ack(1, 0, 'other')]).missing).toEqual([0, 1]);
  });

  it('treats a message the partitioner never saw as unacknowledged', () => {
    expect(unacknowledgedPartitions(topic, messages, () => undefined, [ack(0), ack(1)]).missing).toEqual([-1]);
  });
});

describe('sendOne (the consumer’s retry/DLQ hops, the replay-worker)', () => {
  const producerAnswering = (metadata: RecordMetadata[]) => ({ send: async () => metadata });
  it('returns the acknowledgement of the one record', async () => {
    await expect(sendOne(producerAnswering([ack(2)]), topic, { key: 'a', value: 'a' })).resolves.toMatchObject({ partition: 2, baseOffset: '7' });
  });

  it('throws when send() resolved without an acknowledgement for the record (kafkajs #1303), so the caller does not commit', async () => {
    await expect(sendOne(producerAnswering([]), topic, { key: 'a', value: 'a' })).rejects.toThrow(UnacknowledgedPartitionsError);
    await expect(sendOne(producerAnswering([ack(2, 6), ack(2, 0, 'other')]), topic, { key: 'a', value: 'a', partition: 2 })).rejects.toThrow(/partition\(s\) 2 \(acknowledged: none\)/);
  });
});
