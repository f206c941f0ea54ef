/**
 * A statistic over the samples of every case of an arm (a p99 latency over all the events the arm's
 * cases sent), reported as one of the arm's numbers.
 *
 *   const latency = pooled((values) => Math.round(percentile(values, 99)));   // one per arm, at file scope
 *   run: async () => ({ …, 'latency p99 ms': latency.add(caseLatencies) }),   // the arm's total = p99 of all
 *
 * The runner sums a number over the cases (lab/kit/experiment.ts): so each case contributes the change it
 * makes to the statistic of everything added so far, and the arm's total is the statistic of the pooled
 * samples — not the worst case's nor a sum of per-case percentiles. A case's own value is not that case's
 * statistic: expect nothing of it; state expectations on per-case numbers.
 */
export interface Pooled {
  /** Adds one case's samples; returns that case's contribution to the arm's total. */
  add(samples: readonly number[]): number;
  /** The statistic of every sample added so far (NaN before any). */
  readonly value: number;
}

export function pooled(statistic: (values: readonly number[]) => number): Pooled {
  const samples: number[] = [];
  let reported = 0;
  return {
    add(more) {
      samples.push(...more);
      const now = statistic(samples);
      if (!Number.isFinite(now)) return 0; // nothing to report yet: leaves the total where it was
      const contribution = now - reported;
      reported = now;
      return contribution;
    },
    get value() {
      return samples.length ? statistic(samples) : Number.NaN;
    },
  };
}
