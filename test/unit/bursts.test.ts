import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bursts, peakInWindow } from '../../lab/util/bursts.ts';

describe('bursts (E-008: DB queries per expiry from the statement log)', () => {
  it('splits at gaps longer than gapMs, in time order whatever the input order', () => {
    expect(bursts([3102, 100, 105, 101, 3100], 1000)).toEqual([
      { start: 100, end: 105, count: 3 },
      { start: 3100, end: 3102, count: 2 },
    ]);
    expect(bursts([], 1000)).toEqual([]);
    expect(bursts([0, 1000, 2000], 1000)).toEqual([{ start: 0, end: 2000, count: 3 }]); // a gap of exactly gapMs joins
  });

  it('counts every event once', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 10_000 })), fc.integer({ min: 0, max: 500 }), (times, gap) => {
      const found = bursts(times, gap);
      expect(found.reduce((sum, b) => sum + b.count, 0)).toBe(times.length);
      for (let i = 1; i < found.length; i++) expect(found[i]!.start - found[i - 1]!.end).toBeGreaterThan(gap);
    }));
  });

  it('peakInWindow: the most events in any half-open window of windowMs', () => {
    expect(peakInWindow([0, 10, 50, 200], 100)).toBe(3);
    expect(peakInWindow([0, 100, 200], 100)).toBe(1);
    expect(peakInWindow([], 100)).toBe(0);
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 2000 })), fc.integer({ min: 1, max: 300 }), (times, window) => {
      const brute = Math.max(0, ...times.map((t) => times.filter((u) => u >= t && u < t + window).length));
      expect(peakInWindow(times, window)).toBe(brute);
    }));
  });
});
