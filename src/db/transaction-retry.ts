/**
 * The policy for transactions that meet lock contention (E-019): take row locks in one global order, run
 * the WHOLE transaction again on a retryable error with capped exponential backoff and full jitter, and
 * hand the work back as `RetriesExhaustedError` once the attempts are spent, so the caller parks it (a DLQ)
 * instead of dropping or half-applying it.
 *
 *   const ids = inLockOrder([from, to]);                     // every transaction locks A before B
 *   const { value, attempts } = await retryTransaction(pool, (connection) => apply(connection, ids), policy);
 *
 * Why the whole transaction, never the statement: a deadlock (1213) rolls the transaction back, but a lock
 * wait timeout (1205) rolls back only the statement that waited (innodb_rollback_on_timeout is off and not
 * dynamic), so the transaction is still open with its earlier writes; catching 1205 and committing commits
 * half a transfer (E-019's ❌ arm). Here every failed attempt is rolled back before the next one begins.
 * Which errors are retryable is `isRetryableDbError` (src/db/pool.ts: 1020, 1205, 1213, lost connections).
 */
import type mysql from 'mysql2/promise';
import { backoffDelay, type BackoffOptions } from '../services/relay/backoff.ts';
import { inTransaction, isRetryableDbError } from './pool.ts';

export interface TransactionRetryPolicy {
  /** Attempts in all, the first included (≥ 1). */
  maxAttempts: number;
  /** Delay before attempt n+1: uniform in [0, min(maxMs, initialMs · 2^(n−1))] (full jitter). */
  backoff: BackoffOptions;
}

export const defaultTransactionRetryPolicy: TransactionRetryPolicy = { maxAttempts: 5, backoff: { initialMs: 10, maxMs: 500 } };

/** The ids in the one order every transaction locks them in (ascending, each once). */
export function inLockOrder(ids: readonly string[]): string[] {
  return [...new Set(ids)].sort();
}

/** Every attempt failed with a retryable error: the work is to be parked, not dropped. */
export class RetriesExhaustedError extends Error {
  override readonly name = 'RetriesExhaustedError';
  constructor(
    readonly attempts: number,
    /** The MySQL error number of each failed attempt (0 for a network error). */
    readonly errnos: number[],
    options: { cause: unknown },
  ) {
    super(`transaction failed ${attempts} times with retryable errors (${errnos.join(', ')}); last: ${options.cause instanceof Error ? options.cause.message : String(options.cause)}`, options);
  }
}

export interface RetryHooks {
  /** Called after a failed attempt that will be retried, before the backoff. */
  onRetry?(error: unknown, attempt: number, delayMs: number): void | Promise<void>;
  sleep?(ms: number): Promise<void>;
  random?(): number;
}

/**
 * Runs `work` in a transaction (BEGIN … COMMIT, rolled back on any error) until it commits, a
 * non-retryable error is thrown (rethrown as it is), or `policy.maxAttempts` attempts failed retryably
 * (RetriesExhaustedError). Resolves with the value and the number of attempts it took.
 */
export async function retryTransaction<T>(
  pool: Pick<mysql.Pool, 'getConnection'>,
  work: (connection: mysql.PoolConnection, attempt: number) => Promise<T>,
  policy: TransactionRetryPolicy = defaultTransactionRetryPolicy,
  hooks: RetryHooks = {},
): Promise<{ value: T; attempts: number }> {
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) throw new Error(`maxAttempts must be a whole number >= 1, got ${policy.maxAttempts}`);
  const sleep = hooks.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const errnos: number[] = [];
  for (let attempt = 1; ; attempt += 1) {
    try {
      return { value: await inTransaction(pool as mysql.Pool, (connection) => work(connection, attempt)), attempts: attempt };
    } catch (error) {
      if (!isRetryableDbError(error)) throw error;
      errnos.push((error as { errno?: number }).errno ?? 0);
      if (attempt >= policy.maxAttempts) throw new RetriesExhaustedError(attempt, errnos, { cause: error });
      const delayMs = backoffDelay(attempt, policy.backoff, hooks.random);
      await hooks.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs);
    }
  }
}
