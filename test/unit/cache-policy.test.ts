/** The balance cache's pure decisions (src/cache/policy.ts): TTL jitter, XFetch, entry state. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { entryState, jitteredTtl, shouldRefreshEarly } from '../../src/cache/policy.ts';

const fixed = (value: number) => () => value;

describe('jitteredTtl', () => {
  it('stays within ttl × [1 - jitter, 1 + jitter] for every random draw', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 600_000 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (ttl, jitter, r) => {
        const value = jitteredTtl(ttl, jitter, fixed(r));
        // ±1 for rounding to whole milliseconds
        expect(value).toBeGreaterThanOrEqual(Math.max(1, Math.floor(ttl * (1 - jitter))));
        expect(value).toBeLessThanOrEqual(Math.ceil(ttl * (1 + jitter)));
      }),
    );
  });

  it('hits both ends of the range and spreads values (keys do not expire together)', () => {
    expect(jitteredTtl(30_000, 0.1, fixed(0))).toBe(27_000);
    expect(jitteredTtl(30_000, 0.1, fixed(0.5))).toBe(30_000);
    expect(jitteredTtl(30_000, 0.1, fixed(0.999_999))).toBe(33_000);
    const values = new Set(Array.from({ length: 200 }, () => jitteredTtl(30_000, 0.1)));
    expect(values.size).toBeGreaterThan(100);
  });

  it('is the plain TTL without jitter, clamps the fraction and never goes below 1 ms', () => {
    expect(jitteredTtl(30_000, 0, fixed(0))).toBe(30_000);
    expect(jitteredTtl(1000, 5, fixed(0))).toBe(1); // jitter clamped to 1: factor 0 → 1 ms floor
    expect(jitteredTtl(1000, -1, fixed(0.9))).toBe(1000);
  });
});

describe('shouldRefreshEarly (XFetch)', () => {
  const base = { freshUntil: 10_000, computeMs: 100, beta: 1 };

  it('always refreshes at or after expiry, never long before it', () => {
    expect(shouldRefreshEarly({ ...base, now: 10_000, random: fixed(1) })).toBe(true);
    expect(shouldRefreshEarly({ ...base, now: 12_000, random: fixed(0.99) })).toBe(true);
    // 5 s before expiry with a 100 ms recompute needs ln(r) <= -50: r <= 2e-22
    expect(shouldRefreshEarly({ ...base, now: 5000, random: fixed(0.000_001) })).toBe(false);
  });

  it('matches the formula now - delta * beta * ln(r) >= expiry at the boundary', () => {
    const now = 9900; // 100 ms before expiry: refresh iff -100 * ln(r) >= 100 iff r <= e^-1
    expect(shouldRefreshEarly({ ...base, now, random: fixed(Math.exp(-1) - 1e-9) })).toBe(true);
    expect(shouldRefreshEarly({ ...base, now, random: fixed(Math.exp(-1) + 1e-9) })).toBe(false);
    // beta 2 doubles the gap: the same draw refreshes 200 ms before expiry
    expect(shouldRefreshEarly({ ...base, beta: 2, now: 9800, random: fixed(Math.exp(-1) - 1e-9) })).toBe(true);
    // no recompute cost measured: refresh only at expiry
    expect(shouldRefreshEarly({ ...base, computeMs: 0, now: 9999, random: fixed(1e-12) })).toBe(false);
    // random() = 0 (possible with Math.random) means "refresh now", without NaN or a throw
    expect(shouldRefreshEarly({ ...base, now: 9000, random: fixed(0) })).toBe(true);
  });

  it('is monotonic: a draw that refreshes at time t also refreshes later, and with a smaller draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.double({ min: 1e-9, max: 1, noNaN: true }),
        fc.double({ min: 1e-9, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 2000 }),
        (t1, t2, r1, r2, computeMs) => {
          const [early, late] = t1 <= t2 ? [t1, t2] : [t2, t1];
          const [small, big] = r1 <= r2 ? [r1, r2] : [r2, r1];
          const input = { freshUntil: 10_000, computeMs, beta: 1 };
          if (shouldRefreshEarly({ ...input, now: early, random: fixed(big) })) {
            expect(shouldRefreshEarly({ ...input, now: late, random: fixed(big) })).toBe(true);
            expect(shouldRefreshEarly({ ...input, now: early, random: fixed(small) })).toBe(true);
          }
        },
      ),
    );
  });

  it('refreshes more often as expiry nears (probability over seeded draws)', () => {
    let state = 42;
    const seeded = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return (state + 1) / 2 ** 31;
    };
    const rate = (now: number) => Array.from({ length: 2000 }, () => shouldRefreshEarly({ ...base, now, random: seeded })).filter(Boolean).length / 2000;
    const far = rate(9500);
    const near = rate(9950);
    // P(refresh) = exp(-(expiry - now) / delta): e^-5 ≈ 0.007 and e^-0.5 ≈ 0.61
    expect(far).toBeLessThan(0.03);
    expect(near).toBeGreaterThan(0.5);
    expect(near).toBeLessThan(0.72);
  });
});

describe('entryState', () => {
  it('is fresh before freshUntil, stale within staleMs after it, expired later, missing without entry', () => {
    const entry = { freshUntil: 1000 };
    expect(entryState(undefined, 0, 100)).toBe('missing');
    expect(entryState(entry, 999, 100)).toBe('fresh');
    expect(entryState(entry, 1000, 100)).toBe('stale');
    expect(entryState(entry, 1099, 100)).toBe('stale');
    expect(entryState(entry, 1100, 100)).toBe('expired');
    expect(entryState(entry, 1000, 0)).toBe('expired'); // stale serving off
    expect(entryState({ freshUntil: Number.NaN }, 0, 100)).toBe('missing'); // a garbled entry is a miss
  });
});
