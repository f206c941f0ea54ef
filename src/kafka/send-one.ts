/**
 * One record, acks=-1, and proof that Kafka appended it. The consumer's retry/DLQ hops and the
 * replay-worker send records one at a time; what they send next (an offset commit, an audit row
 * "replayed") treats the record as written. A resolved kafkajs send() is not that proof: 2.2.4 can
 * resolve without an acknowledgement for a partition whose leader moved onto a broker that had already
 * answered in the same send (kafkajs issue #1303; the relay's EventPublisher checks every partition of
 * its batches, see its header). So the answer must hold an acknowledgement (error code 0, an offset) for
 * the record's topic, or the send counts as failed: the caller does not commit, and tries again.
 */
import type { Message, Producer, RecordMetadata } from 'kafkajs';
import { UnacknowledgedPartitionsError } from './event-publisher.ts';

export async function sendOne(producer: Pick<Producer, 'send'>, topic: string, message: Message): Promise<RecordMetadata> {
  const metadata = await producer.send({ topic, acks: -1, messages: [message] });
  const ack = metadata.find((m) => m.topicName === topic && m.errorCode === 0 && (m.baseOffset ?? m.offset) !== undefined);
  // The partition the default partitioner chose is not known here; -1 stands for "the record's".
  if (!ack) throw new UnacknowledgedPartitionsError(topic, message.partition !== undefined ? [message.partition] : [-1], metadata.filter((m) => m.topicName === topic && m.errorCode === 0).map((m) => m.partition));
  return ack;
}
