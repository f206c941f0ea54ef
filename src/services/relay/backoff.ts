/**
 * Exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential Backoff and Jitter"):
 * the delay is uniform in [0, min(maxMs, initialMs · 2^(attempt−1))]. Jitter spreads the retries of
 * several relays (and shards) that failed at the same moment — a broker going away — so they do not hit
 * the recovering cluster in lockstep; the cap bounds how long a healthy Kafka waits to be used again.
 * Pure (randomness injected) so its schedule and bounds are unit-tested.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export const defaultBackoff: BackoffOptions = { initialMs: 100, maxMs: 5000 };

/** The upper bound of the delay after `attempt` consecutive failures (0 for attempt < 1). */
export function backoffCap(attempt: number, { initialMs, maxMs }: BackoffOptions): number {
  if (!(attempt >= 1)) return 0;
  // 2^(attempt-1) overflows to Infinity for large attempts, which Math.min turns into maxMs.
  return Math.min(maxMs, initialMs * 2 ** (attempt - 1));
}

/** A delay in [0, backoffCap(attempt)] (whole milliseconds); `random` returns values in [0, 1). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const cap = backoffCap(attempt, options);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.min(cap, Math.floor(r * (cap + 1)));
}

/** Per-key (per shard) failure count and the time before which the key is not tried again. */
export class BackoffTracker<K> {
  private readonly state = new Map<K, { attempt: number; notBefore: number }>();

  constructor(private readonly options: BackoffOptions = defaultBackoff, private readonly random: () => number = Math.random) {}

  /** Records a failure; returns the chosen delay in ms. */
  fail(key: K, now = Date.now()): number {
    const attempt = (this.state.get(key)?.attempt ?? 0) + 1;
    const delay = backoffDelay(attempt, this.options, this.random);
    this.state.set(key, { attempt, notBefore: now + delay });
    return delay;
  }

  succeed(key: K): void {
    this.state.delete(key);
  }

  isWaiting(key: K, now = Date.now()): boolean {
    const entry = this.state.get(key);
    return entry !== undefined && now < entry.notBefore;
  }

  attempts(key: K): number {
    return this.state.get(key)?.attempt ?? 0;
  }
}
