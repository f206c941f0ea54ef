/**
 * consumer-service: a dead letter the DLQ rejects as too large (issue 7: a ~1 MiB record just below
 * the events topic's limit, plus the failure headers, is over it) is written as a smaller fallback that
 * still names where the full record is; the broker's "too large" answer is recognised through kafkajs's
 * error wrapping.
 */
import { describe, expect, it } from 'vitest';
import { KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import { failureHeaders } from '../../src/kafka/headers.ts';
import { DeadLetterRejectedError, recordTooLargeReason } from '../../src/services/consumer/errors.ts';
import { deadLetterFallback, deadLetterFallbacks, failureRecordHeaders } from '../../src/services/consumer/failure-routing.ts';

const original = { 'event-id': 'e-1', 'event-type': 'FundsDeposited', 'trace-id': 't-1' };
const failure = { errorClass: 'bad-magic-byte', message: 'first byte is 0x78' };
const headers = failureRecordHeaders({ topic: 'x.wallet.events', partition: 2, offset: '41', headers: original }, failure, 1, 1_700_000_000_000, 'g-1');
const big = Buffer.alloc(1_048_400, 'x');
const [truncating, bare] = deadLetterFallbacks;
/** kafkajs's typings omit the options argument its errors take (and its producer passes). */
const NonRetriable = KafkaJSNonRetriableError as unknown as new (e: Error, options: { cause: unknown }) => Error;

describe('DLQ fallback record', () => {
  it('keeps a 16 KiB prefix of the value, the original headers and every failure header', () => {
    const fallback = deadLetterFallback({ key: 'acct-1', value: big, headers }, 'MESSAGE_TOO_LARGE', truncating!);
    expect(fallback.key).toBe('acct-1');
    expect(fallback.value!.length).toBe(16 * 1024);
    expect(big.subarray(0, 16 * 1024).equals(fallback.value!)).toBe(true);
    expect(fallback.headers).toEqual({
      ...headers,
      [failureHeaders.valueTruncated]: 'true',
      [failureHeaders.originalValueBytes]: '1048400',
      [failureHeaders.fallbackReason]: 'MESSAGE_TOO_LARGE',
    });
    // Where to re-read the full record.
    expect(fallback.headers).toMatchObject({ [failureHeaders.originalTopic]: 'x.wallet.events', [failureHeaders.originalPartition]: '2', [failureHeaders.originalOffset]: '41' });
  });

  it('the bare fallback keeps only the failure headers and an empty value', () => {
    const fallback = deadLetterFallback({ key: 'acct-1', value: big, headers }, 'RECORD_LIST_TOO_LARGE', bare!);
    expect(fallback.key).toBeNull();
    expect(fallback.value!.length).toBe(0);
    expect(fallback.headers[failureHeaders.headersDropped]).toBe('(key),event-id,event-type,trace-id');
    expect(fallback.headers[failureHeaders.originalOffset]).toBe('41');
    expect(fallback.headers[failureHeaders.errorClass]).toBe('bad-magic-byte');
    expect(fallback.headers).not.toHaveProperty('event-id');
  });

  it('leaves off oversized original headers and an oversized key, and says so', () => {
    const huge = { ...headers, 'x-blob': 'y'.repeat(100_000) };
    const fallback = deadLetterFallback({ key: 'k'.repeat(5000), value: Buffer.from('small'), headers: huge }, 'MESSAGE_TOO_LARGE', truncating!);
    expect(fallback.key).toBeNull();
    expect(fallback.headers).not.toHaveProperty('x-blob');
    expect(fallback.headers['event-id']).toBe('e-1');
    expect(fallback.headers[failureHeaders.headersDropped]).toBe('(key),x-blob');
    // The value was small: kept whole, not marked truncated.
    expect(fallback.value!.toString()).toBe('small');
    expect(fallback.headers).not.toHaveProperty(failureHeaders.valueTruncated);
    expect(fallback.headers[failureHeaders.originalValueBytes]).toBe('5');
  });

  it('bounds the fallback whatever the original size', () => {
    const many = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`h-${i}`, 'v'.repeat(50)]));
    const fallback = deadLetterFallback({ key: null, value: Buffer.alloc(50_000_000), headers: { ...headers, ...many } }, 'MESSAGE_TOO_LARGE', truncating!);
    const size = (fallback.value?.length ?? 0) + Object.entries(fallback.headers).reduce((sum, [k, v]) => sum + k.length + v.length, 0);
    expect(size).toBeLessThan(32 * 1024);
    expect(fallback.headers[failureHeaders.headersDropped]!.length).toBeLessThanOrEqual(1000);
  });
});

describe('recordTooLargeReason', () => {
  const protocol = (type: string, code: number) => new KafkaJSProtocolError({ type, code, retriable: false, message: `${type} from the broker` } as never);

  it('finds MESSAGE_TOO_LARGE / RECORD_LIST_TOO_LARGE through kafkajs wrappers', () => {
    const tooLarge = protocol('MESSAGE_TOO_LARGE', 10);
    expect(recordTooLargeReason(tooLarge)).toBe('MESSAGE_TOO_LARGE');
    expect(recordTooLargeReason(new NonRetriable(tooLarge, { cause: tooLarge }))).toBe('MESSAGE_TOO_LARGE');
    const list = protocol('RECORD_LIST_TOO_LARGE', 18);
    expect(recordTooLargeReason(new KafkaJSNumberOfRetriesExceeded(list, { cause: list } as never))).toBe('RECORD_LIST_TOO_LARGE');
    expect(recordTooLargeReason(new DeadLetterRejectedError('no', { cause: new NonRetriable(tooLarge, { cause: tooLarge }) }))).toBe('MESSAGE_TOO_LARGE');
  });

  it('is undefined for other failures', () => {
    expect(recordTooLargeReason(protocol('NOT_LEADER_OR_FOLLOWER', 6))).toBeUndefined();
    expect(recordTooLargeReason(new Error('ECONNRESET'))).toBeUndefined();
    expect(recordTooLargeReason(undefined)).toBeUndefined();
    const loop: { cause?: unknown } = {};
    loop.cause = loop;
    expect(recordTooLargeReason(loop)).toBeUndefined();
  });

  it('a DLQ that rejects everything is a non-retriable failure (kafkajs neither retries nor restarts)', () => {
    expect(new DeadLetterRejectedError('x', { cause: undefined }).retriable).toBe(false);
  });
});
