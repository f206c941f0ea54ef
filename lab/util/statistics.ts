/**
 * The one definition of the lab's summary statistics, used by the suites, the run report and the bench
 * (`import { percentile } from '../lab/util/statistics.ts'`), so a "p99" means the same everywhere.
 *
 * Percentiles are nearest-rank: the p-th percentile of n values is the smallest value with at least
 * p % of the values at or below it — the value at rank ⌈p/100 · n⌉ (1-based) of the sorted values. It is
 * always one of the measured values (no interpolation), p100 is the maximum, and p50 of an even count is
 * the lower middle value. Empty input has no percentile: NaN, never a made-up 0.
 */

/** Nearest-rank percentile, `p` in [0, 100]; the input is not reordered. */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within [0, 100], got ${p}`);
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The nearest-rank p50. */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Several percentiles of one sample, sorting it once: `percentiles(latencies, [50, 99])` → `{ 50: …, 99: … }`. */
export function percentiles<P extends number>(values: readonly number[], ps: readonly P[]): Record<P, number> {
  const sorted = [...values].sort((a, b) => a - b);
  return Object.fromEntries(ps.map((p) => [p, percentile(sorted, p)])) as Record<P, number>;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, v) => sum + v, 0) / values.length;
}
