/** The replay's rate limiter (p-throttle + a spacing guard): the measured rate never exceeds the limit. */
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/services/replay/rate-limiter.ts';

describe('RateLimiter', () => {
  it('spaces sequential calls by 1/rate and measures at most the limit', async () => {
    const limiter = new RateLimiter(50); // 20 ms apart
    const starts: number[] = [];
    const started = performance.now();
    // The slot starts as the limiter timed them: a clock read inside `work` can come late on a loaded
    // machine (the process preempted between the two reads), which says nothing about the limit.
    for (let i = 0; i < 8; i += 1) await limiter.run(async (startedAt) => starts.push(startedAt));
    const elapsed = performance.now() - started;
    for (let i = 1; i < starts.length; i += 1) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(20 - 0.001);
    expect(elapsed).toBeGreaterThanOrEqual(7 * 20 - 1);
    expect(limiter.count).toBe(8);
    expect(limiter.measuredRate()).toBeLessThanOrEqual(50);
    expect(limiter.measuredRate()).toBeGreaterThan(25); // and it does not crawl
  });

  it('returns the work result, passes errors through, and measures 0 before any call', async () => {
    const limiter = new RateLimiter(1000);
    expect(limiter.measuredRate()).toBe(0);
    expect(await limiter.run(async () => 42)).toBe(42);
    await expect(limiter.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(() => new RateLimiter(0)).toThrow(/> 0/);
  });
});
