import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { median, percentile } from '../../lab/report/statistics.ts';

describe('statistics: median and nearest-rank percentile', () => {
  it('median: the middle value of an odd count, the mean of the two middle values of an even count', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([10, 0.5, 7, 7, 100])).toBe(7);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([42])).toBe(42);
    expect(median([])).toBeNaN();
  });

  it('percentile: nearest rank, always one of the values; p99 of 1..100 is 99, p100 the maximum, p0 the minimum', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted on purpose
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0)).toBe(1);
    expect(percentile([5, 1, 3], 50)).toBe(3);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });

  it('does not reorder its input', () => {
    const values = [3, 1, 2];
    median(values);
    percentile(values, 99);
    expect(values).toEqual([3, 1, 2]);
  });

  it('for any values: the percentile is a member, at least p % are at or below it and fewer below; it never decreases with p', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 1, maxLength: 200 }), fc.double({ min: 0, max: 100, noNaN: true }), (values, p) => {
        const value = percentile(values, p);
        expect(values).toContain(value);
        expect(values.filter((v) => v <= value).length).toBeGreaterThanOrEqual((p / 100) * values.length);
        expect(values.filter((v) => v < value).length).toBeLessThan(Math.max(1, (p / 100) * values.length));
        expect(percentile(values, Math.min(100, p + 1))).toBeGreaterThanOrEqual(value);
      }),
    );
  });

  it('for any values: the median lies between min and max and half the values are on either side', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }), (values) => {
        const m = median(values);
        expect(m).toBeGreaterThanOrEqual(Math.min(...values));
        expect(m).toBeLessThanOrEqual(Math.max(...values));
        expect(values.filter((v) => v <= m).length).toBeGreaterThanOrEqual(values.length / 2);
        expect(values.filter((v) => v >= m).length).toBeGreaterThanOrEqual(values.length / 2);
      }),
    );
  });
});
