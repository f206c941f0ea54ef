/**
 * The few order statistics the lab reports: median and percentile, pure and in one place so a suite's
 * p99, the report's timeline and `npm run bench` mean the same thing by the same word.
 *
 * Percentile is the nearest-rank definition: the smallest value with at least p % of the values at or
 * below it (sorted[ceil(p/100 · n) − 1]). It always returns one of the measured values (no
 * interpolation between two latencies that never happened), p99 of 100 values is the 99th, not the
 * maximum, and p100 is the maximum. The median is the usual one: the middle value, or the mean of the
 * two middle values of an even count, so the median of 3 repetitions is the middle repetition.
 * No values → NaN: "no data" must not print as a plausible 0 ms.
 */

function sortedCopy(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** Nearest-rank percentile, `p` in [0, 100]; the values need not be sorted. */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be within [0, 100], got ${p}`);
  if (values.length === 0) return Number.NaN;
  const sorted = sortedCopy(values);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** The middle value (mean of the two middle values for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = sortedCopy(values);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
