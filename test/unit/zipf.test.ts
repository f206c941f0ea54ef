import { describe, expect, it } from 'vitest';
import { seededRandom, skew, zipf, zipfWeights } from '../../lab/generators/zipf.ts';

describe('Zipf generator', () => {
  it('is the same sequence for the same seed, another for another seed', () => {
    const take = (seed: number) => Array.from({ length: 50 }, zipf({ n: 100, s: 1.1, seed }));
    expect(take(7)).toEqual(take(7));
    expect(take(7)).not.toEqual(take(8));
    const random = seededRandom(1);
    for (let i = 0; i < 1000; i += 1) expect(random()).toBeGreaterThanOrEqual(0), expect(random()).toBeLessThan(1);
  });

  it('draws ranks with the Zipf frequencies: rank 0 the most, 1/(k+1)^s relative to it', () => {
    const [n, s, draws] = [50, 1.2, 200_000];
    const counts = new Array<number>(n).fill(0);
    const next = zipf({ n, s, seed: 3 });
    for (let i = 0; i < draws; i += 1) counts[next()]! += 1;
    const weights = zipfWeights(n, s);
    expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    for (const k of [0, 1, 4, 9]) expect(Math.abs(counts[k]! / draws - weights[k]!)).toBeLessThan(0.01);
    expect(counts[0]).toBe(Math.max(...counts));
    expect(counts.every((c, k) => k < n)).toBe(true);
  });

  it('rejects a distribution that does not exist', () => {
    expect(() => zipf({ n: 0, s: 1, seed: 1 })).toThrow(RangeError);
    expect(() => zipf({ n: 10, s: 0, seed: 1 })).toThrow(RangeError);
  });

  it('measures skew as max / mean: 1 when even, the shard count when all on one', () => {
    expect(skew([5, 5, 5])).toBe(1);
    expect(skew([9, 0, 0])).toBe(3);
    expect(skew([6, 2, 1])).toBe(2);
    expect(skew([])).toBeNaN();
    expect(skew([0, 0])).toBeNaN();
  });
});
