/** consumer-service: what a retry or DLQ record says about its origin and its failure. */
import { describe, expect, it } from 'vitest';
import { failureHeaders } from '../../src/kafka/headers.ts';
import { failureRecordHeaders, firstFailureAt } from '../../src/services/consumer/failure-routing.ts';

const original = { 'event-id': 'e-1', 'event-type': 'FundsDeposited', 'trace-id': 't-1', 'aggregate-id': 'a-1' };
const failure = { errorClass: 'bad-magic-byte', message: 'first byte is 0x7b' };

describe('DLQ header mapping', () => {
  it('keeps the original headers and names origin, failure, attempts and group', () => {
    const headers = failureRecordHeaders({ topic: 'x.wallet.events', partition: 4, offset: '17', headers: original }, failure, 1, 1_700_000_000_000, 'g-1');
    expect(headers).toEqual({
      ...original,
      [failureHeaders.errorClass]: 'bad-magic-byte',
      [failureHeaders.errorMessage]: 'first byte is 0x7b',
      [failureHeaders.originalTopic]: 'x.wallet.events',
      [failureHeaders.originalPartition]: '4',
      [failureHeaders.originalOffset]: '17',
      [failureHeaders.attempts]: '1',
      [failureHeaders.firstFailureAt]: '1700000000000',
      [failureHeaders.consumerGroup]: 'g-1',
    });
    expect(headers).not.toHaveProperty(failureHeaders.retryNotBefore);
  });

  it('adds retry-not-before for a retry record', () => {
    const headers = failureRecordHeaders({ topic: 't', partition: 0, offset: '1', headers: {} }, failure, 1, 10, 'g', 510);
    expect(headers[failureHeaders.retryNotBefore]).toBe('510');
  });

  it('keeps the first origin and first failure time across retry hops, and drops a stale retry-not-before', () => {
    const hop1 = failureRecordHeaders({ topic: 'main', partition: 2, offset: '40', headers: original }, { errorClass: 'FailpointError', message: 'one' }, 1, 1000, 'g', 1500);
    const hop2 = failureRecordHeaders({ topic: 'main.retry-1', partition: 5, offset: '3', headers: hop1 }, { errorClass: 'db:ER_LOCK_DEADLOCK', message: 'two' }, 2, firstFailureAt(hop1, 9999), 'g');
    expect(hop2[failureHeaders.originalTopic]).toBe('main');
    expect(hop2[failureHeaders.originalPartition]).toBe('2');
    expect(hop2[failureHeaders.originalOffset]).toBe('40');
    expect(hop2[failureHeaders.firstFailureAt]).toBe('1000');
    expect(hop2[failureHeaders.attempts]).toBe('2');
    expect(hop2[failureHeaders.errorClass]).toBe('db:ER_LOCK_DEADLOCK');
    expect(hop2[failureHeaders.errorMessage]).toBe('two');
    expect(hop2).not.toHaveProperty(failureHeaders.retryNotBefore);
    expect(hop2['event-id']).toBe('e-1');
  });

  it('bounds the error message', () => {
    const headers = failureRecordHeaders({ topic: 't', partition: 0, offset: '0', headers: {} }, { errorClass: 'x', message: 'y'.repeat(5000) }, 1, 1, 'g');
    expect(headers[failureHeaders.errorMessage]!.length).toBe(1000);
  });

  it('takes the first failure time from the headers, else now', () => {
    expect(firstFailureAt({}, 42)).toBe(42);
    expect(firstFailureAt({ [failureHeaders.firstFailureAt]: '7' }, 42)).toBe(7);
    expect(firstFailureAt({ [failureHeaders.firstFailureAt]: 'garbage' }, 42)).toBe(42);
  });
});
