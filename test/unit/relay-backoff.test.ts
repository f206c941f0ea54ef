import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffCap, backoffDelay, BackoffTracker } from '../../src/services/relay/backoff.ts';

const options = { initialMs: 100, maxMs: 5000 };

describe('relay backoff (exponential, full jitter)', () => {
  it('doubles the cap per attempt from initialMs and stops at maxMs', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => backoffCap(attempt, options))).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    expect(backoffCap(0, options)).toBe(0);
    expect(backoffCap(10_000, options)).toBe(5000); // 2^9999 is Infinity: still capped
  });

  it('uses the whole range: random 0 gives 0, random just below 1 gives the cap', () => {
    expect(backoffDelay(3, options, () => 0)).toBe(0);
    expect(backoffDelay(3, options, () => 0.999_999_9)).toBe(400);
    expect(backoffDelay(20, options, () => 0.999_999_9)).toBe(5000);
    expect(backoffDelay(1, options, () => 0.5)).toBe(50);
  });

  it('always stays within [0, cap] and is a whole number of milliseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 2000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 100_000 }), (attempt, r, initialMs, extra) => {
        const opts = { initialMs, maxMs: initialMs + extra };
        const delay = backoffDelay(attempt, opts, () => r);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(backoffCap(attempt, opts));
        expect(delay).toBeLessThanOrEqual(opts.maxMs);
      }),
    );
  });

  it('jitters: real randomness spreads delays over the range instead of one value', () => {
    const delays = Array.from({ length: 500 }, () => backoffDelay(7, options));
    expect(Math.min(...delays)).toBeLessThan(1000);
    expect(Math.max(...delays)).toBeGreaterThan(4000);
    expect(new Set(delays).size).toBeGreaterThan(100);
  });

  it('tracks failures per key: only the failing key waits, success resets it', () => {
    const tracker = new BackoffTracker<number>(options, () => 0.999_999_9);
    expect(tracker.fail(3, 1000)).toBe(100);
    expect(tracker.fail(3, 1000)).toBe(200);
    expect(tracker.attempts(3)).toBe(2);
    expect(tracker.isWaiting(3, 1100)).toBe(true);
    expect(tracker.isWaiting(3, 1200)).toBe(false);
    expect(tracker.isWaiting(4, 1100)).toBe(false);
    tracker.succeed(3);
    expect(tracker.attempts(3)).toBe(0);
    expect(tracker.isWaiting(3, 1000)).toBe(false);
  });
});
