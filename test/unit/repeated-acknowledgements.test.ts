/**
 * The relay's second proof that a batch was appended: the offset each partition acknowledges is past
 * every offset the same producer was acknowledged before on it. A broker answers a batch it takes for a
 * duplicate (same producer, same sequence numbers) with the original batch's offset and appends nothing;
 * kafkajs can number a new batch so after a retried send (E-001's lost v22).
 */
import type { RecordMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { repeatedAcknowledgements } from '../../src/kafka/event-publisher.ts';

const topic = 'wallet.events';
const ack = (partition: number, baseOffset: string, t = topic): RecordMetadata => ({ topicName: t, partition, errorCode: 0, baseOffset });

describe('repeatedAcknowledgements', () => {
  it('is empty for offsets past what the producer was given before, and for partitions it never wrote', () => {
    const highest = new Map([[0, 4n]]);
    expect(repeatedAcknowledgements(topic, [ack(0, '5'), ack(1, '0')], highest)).toEqual([]);
  });

  it('names a partition acknowledged at an offset the producer was already given (the duplicate answer)', () => {
    const highest = new Map([[1, 0n], [0, 9n]]);
    expect(repeatedAcknowledgements(topic, [ack(0, '12'), ack(1, '0')], highest)).toEqual([{ partition: 1, offset: '0', previous: '0' }]);
  });

  it('also names an offset below the highest one, compares as integers (not strings) and ignores other topics', () => {
    const highest = new Map([[0, 10n], [1, 10n]]);
    expect(repeatedAcknowledgements(topic, [ack(0, '9'), ack(1, '9', 'other'), ack(1, '100')], highest)).toEqual([{ partition: 0, offset: '9', previous: '10' }]);
  });
});
