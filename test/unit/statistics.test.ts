import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { median, percentile, percentiles } from '../../lab/util/statistics.ts';

describe('statistics (one percentile definition: nearest rank)', () => {
  it('takes the value at rank ⌈p/100 · n⌉ of the sorted values', () => {
    const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 90)).toBe(9);
    expect(percentile(values, 99)).toBe(10);
    expect(percentile(values, 100)).toBe(10);
    expect(percentile(values, 0)).toBe(1);
    expect(median([1, 2, 3])).toBe(2);
    expect(median([1, 2, 3, 4])).toBe(2);
    expect(percentiles(values, [50, 99])).toEqual({ 50: 5, 99: 10 });
    expect(values).toEqual([5, 1, 4, 2, 3, 10, 9, 8, 7, 6]);
  });

  it('has no percentile of nothing, and refuses a p outside [0, 100]', () => {
    expect(percentile([], 99)).toBeNaN();
    expect(() => percentile([1], 0.99 * 1000)).toThrow(RangeError);
  });

  it('is a measured value with at least p % of the values at or below it, and fewer than p % below it', () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 100 }), (values, p) => {
        const v = percentile(values, p);
        expect(values).toContain(v);
        expect(values.filter((x) => x <= v).length / values.length).toBeGreaterThanOrEqual(p / 100);
        expect(values.filter((x) => x < v).length / values.length).toBeLessThan(p / 100);
      }),
    );
  });
});
