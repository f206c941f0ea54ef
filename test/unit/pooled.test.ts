import { describe, expect, it } from 'vitest';
import { combine } from '../../lab/kit/experiment.ts';
import { pooled } from '../../lab/kit/pooled.ts';
import { percentile } from '../../lab/util/statistics.ts';

describe('pooled statistic', () => {
  it('makes the summed per-case numbers the statistic of every sample, not the worst case nor a sum', () => {
    const p99 = pooled((values) => percentile(values, 99));
    const cases = [[10, 20, 30], [500], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]];
    const numbers = cases.map((samples) => ({ 'latency p99': p99.add(samples) }));
    expect(combine(numbers)['latency p99']).toBe(percentile(cases.flat(), 99));
    expect(p99.value).toBe(500);
    const p50 = pooled((values) => percentile(values, 50));
    expect(combine(cases.map((samples) => ({ p50: p50.add(samples) }))).p50).toBe(percentile(cases.flat(), 50));
  });

  it('contributes nothing while it has no value (no samples yet)', () => {
    const p50 = pooled((values) => percentile(values, 50));
    expect(p50.add([])).toBe(0);
    expect(p50.value).toBeNaN();
    expect(p50.add([7])).toBe(7);
  });
});
