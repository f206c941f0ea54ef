import { describe, expect, it } from 'vitest';
import { inLockOrder, retryTransaction, RetriesExhaustedError, type TransactionRetryPolicy } from '../../src/db/transaction-retry.ts';

const policy: TransactionRetryPolicy = { maxAttempts: 3, backoff: { initialMs: 10, maxMs: 25 } };
const dbError = (errno: number) => Object.assign(new Error(`errno ${errno}`), { errno });

/** A pool stand-in that records the transaction calls of every connection it hands out. */
function fakePool() {
  const calls: string[] = [];
  const connection = {
    beginTransaction: async () => void calls.push('begin'),
    commit: async () => void calls.push('commit'),
    rollback: async () => void calls.push('rollback'),
    release: () => void calls.push('release'),
  };
  return { calls, pool: { getConnection: async () => connection as never } };
}

describe('retryTransaction', () => {
  it('runs the whole transaction again after a deadlock or lock wait timeout, rolling back each failed attempt', async () => {
    const { calls, pool } = fakePool();
    const delays: number[] = [];
    const failures = [dbError(1213), dbError(1205)];
    const outcome = await retryTransaction(pool, async (_c, attempt) => {
      const failure = failures.shift();
      if (failure) throw failure;
      return attempt;
    }, policy, { sleep: async (ms) => void delays.push(ms), random: () => 0.999 });
    expect(outcome).toEqual({ value: 3, attempts: 3 });
    expect(calls).toEqual(['begin', 'rollback', 'release', 'begin', 'rollback', 'release', 'begin', 'commit', 'release']);
    expect(delays).toEqual([10, 20]); // full jitter at its top: initialMs · 2^(n−1), capped at 25
  });

  it('gives up after maxAttempts with the error numbers, so the caller can park the work', async () => {
    const { pool } = fakePool();
    const retried: number[] = [];
    const attempt = retryTransaction(pool, async () => { throw dbError(1205); }, policy, { sleep: async () => undefined, onRetry: (_e, n) => void retried.push(n) });
    await expect(attempt).rejects.toBeInstanceOf(RetriesExhaustedError);
    await expect(attempt).rejects.toMatchObject({ attempts: 3, errnos: [1205, 1205, 1205] });
    expect(retried).toEqual([1, 2]);
  });

  it('rethrows a non-retryable error at once', async () => {
    const { calls, pool } = fakePool();
    await expect(retryTransaction(pool, async () => { throw dbError(1062); }, policy, { sleep: async () => undefined })).rejects.toMatchObject({ errno: 1062 });
    expect(calls.filter((c) => c === 'begin')).toHaveLength(1);
  });

  it('refuses a policy without attempts', async () => {
    await expect(retryTransaction(fakePool().pool, async () => 1, { ...policy, maxAttempts: 0 })).rejects.toThrow(/maxAttempts/);
  });
});

describe('inLockOrder', () => {
  it('gives opposite transfers the same lock order', () => {
    expect(inLockOrder(['b', 'a'])).toEqual(inLockOrder(['a', 'b']));
    expect(inLockOrder(['b', 'a', 'b'])).toEqual(['a', 'b']);
  });
});
