/**
 * The replay's publish rate limit, and the rate it really achieved.
 *
 * p-throttle (strict: a sliding window, not a fixed one that allows a double burst at the edge) with
 * one call per 1000/rate ms schedules the calls. Its timers can fire a millisecond or two early
 * relative to the clock (Node's timer clock is cached per loop turn), so each call also waits out
 * whatever remains of the spacing by the monotonic clock: the limit then holds by construction, not
 * on average. Calls are expected one at a time (the replay publishes sequentially).
 *
 * Measured rate = calls / (first start → last start + one spacing): the time the calls occupied,
 * each owning one slot of the limit. Perfect pacing measures exactly the limit, never more.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pThrottle from 'p-throttle';

export class RateLimiter {
  readonly spacingMs: number;
  private readonly throttle: <T>(work: (startedAt: number) => Promise<T>) => Promise<T>;
  private first: number | undefined;
  private last: number | undefined;
  private calls = 0;

  constructor(readonly ratePerSecond: number) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new Error(`ratePerSecond must be a finite number > 0, got ${ratePerSecond}`);
    this.spacingMs = 1000 / ratePerSecond;
    const throttled = pThrottle({ limit: 1, interval: this.spacingMs, strict: true })(async (work: (startedAt: number) => Promise<unknown>) => {
      if (this.last !== undefined) {
        for (let wait = this.last + this.spacingMs - performance.now(); wait > 0; wait = this.last + this.spacingMs - performance.now()) await sleep(Math.ceil(wait));
      }
      const now = performance.now();
      this.first ??= now;
      this.last = now;
      this.calls += 1;
      return work(now);
    });
    this.throttle = throttled as <T>(work: (startedAt: number) => Promise<T>) => Promise<T>;
  }

  /** Runs `work` in its slot; `startedAt` is the slot's start (performance.now()), the time the limit holds for. */
  run<T>(work: (startedAt: number) => Promise<T>): Promise<T> {
    return this.throttle(work);
  }

  get count(): number {
    return this.calls;
  }

  measuredRate(): number {
    if (this.first === undefined || this.last === undefined || this.calls === 0) return 0;
    return this.calls / ((this.last - this.first + this.spacingMs) / 1000);
  }
}
