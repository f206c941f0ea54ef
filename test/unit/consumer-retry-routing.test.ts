/** consumer-service: attempt → retry topic or DLQ, and when a retry record is due. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { failureHeaders } from '../../src/kafka/headers.ts';
import { topicNames } from '../../src/kafka/topics.ts';
import type { Failure } from '../../src/services/consumer/errors.ts';
import { previousAttempts, retryNotBefore, retryWaitMs, routeFailure } from '../../src/services/consumer/failure-routing.ts';

const topics = topicNames('p.', [500, 2000, 5000]);
const transient: Failure = { kind: 'transient', errorClass: 'FailpointError', message: '' };
const poison: Failure = { kind: 'poison', errorClass: 'bad-magic-byte', message: '' };

describe('retry-topic routing', () => {
  it('sends failure n to retry topic n, then the DLQ at maxAttempts', () => {
    const maxAttempts = topics.retry.length + 1; // the default
    expect(routeFailure({ failure: transient, attempts: 1, maxAttempts, topics })).toEqual({ action: 'retry', topic: 'p.wallet.events.retry-1', level: 1, delayMs: 500 });
    expect(routeFailure({ failure: transient, attempts: 2, maxAttempts, topics })).toEqual({ action: 'retry', topic: 'p.wallet.events.retry-2', level: 2, delayMs: 2000 });
    expect(routeFailure({ failure: transient, attempts: 3, maxAttempts, topics })).toEqual({ action: 'retry', topic: 'p.wallet.events.retry-3', level: 3, delayMs: 5000 });
    expect(routeFailure({ failure: transient, attempts: 4, maxAttempts, topics })).toEqual({ action: 'dlq', topic: 'p.wallet.events.dlq' });
  });

  it('sends poison to the DLQ on the first failure', () => {
    expect(routeFailure({ failure: poison, attempts: 1, maxAttempts: 4, topics })).toEqual({ action: 'dlq', topic: topics.dlq });
  });

  it('honours a smaller maxAttempts and reuses the last retry topic for a larger one', () => {
    expect(routeFailure({ failure: transient, attempts: 2, maxAttempts: 2, topics }).action).toBe('dlq');
    expect(routeFailure({ failure: transient, attempts: 1, maxAttempts: 1, topics }).action).toBe('dlq');
    expect(routeFailure({ failure: transient, attempts: 5, maxAttempts: 7, topics })).toMatchObject({ action: 'retry', topic: 'p.wallet.events.retry-3', level: 3 });
  });

  it('never retries forever and never retries poison (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 }), fc.boolean(), (attempts, maxAttempts, isPoison) => {
        const route = routeFailure({ failure: isPoison ? poison : transient, attempts, maxAttempts, topics });
        if (isPoison || attempts >= maxAttempts) expect(route.action).toBe('dlq');
        else expect(route).toMatchObject({ action: 'retry', level: Math.min(attempts, 3) });
      }),
    );
  });

  it('with no retry topics, everything goes to the DLQ', () => {
    expect(routeFailure({ failure: transient, attempts: 1, maxAttempts: 5, topics: { retry: [], retryDelaysMs: [], dlq: 'd' } })).toEqual({ action: 'dlq', topic: 'd' });
  });
});

describe('retry-not-before', () => {
  it('is now plus the retry topic delay', () => {
    expect(retryNotBefore(1_000, 500)).toBe(1_500);
    expect(retryNotBefore(1_000, -5)).toBe(1_000);
  });

  it('computes the remaining wait from the header; absent or garbled = due', () => {
    expect(retryWaitMs({ [failureHeaders.retryNotBefore]: '1500' }, 1_000)).toBe(500);
    expect(retryWaitMs({ [failureHeaders.retryNotBefore]: '1500' }, 2_000)).toBe(0);
    expect(retryWaitMs({}, 2_000)).toBe(0);
    expect(retryWaitMs({ [failureHeaders.retryNotBefore]: 'soon' }, 2_000)).toBe(0);
  });

  it('reads previous attempts (0 for a main-topic record)', () => {
    expect(previousAttempts({})).toBe(0);
    expect(previousAttempts({ [failureHeaders.attempts]: '2' })).toBe(2);
    expect(previousAttempts({ [failureHeaders.attempts]: '-1' })).toBe(0);
  });
});
