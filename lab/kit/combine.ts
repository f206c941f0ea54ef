/**
 * How an arm's numbers combine over its cases. A case returns numbers, or samples (a number array: every
 * event's latency) for a number whose arm says how to reduce them:
 *
 *   combine: { 'latency p99 ms': p(99), healMs: 'max' },        // default for a plain number: 'sum'
 *   run: async () => ({ 'latency p99 ms': caseLatencies, healMs: 412, lost: 0 }),
 *
 * A statistic is taken over the POOLED samples of every case (the p99 of all the arm's events), never
 * averaged or maxed over per-case statistics, which would not be a p99 of anything. A case's own value of
 * such a number, what its expectations and its log see, is the statistic of that case's samples.
 */
import type { Numbers } from './expectations.ts';
import { percentile } from '../util/statistics.ts';

/** A reduction of pooled samples to one number. */
export interface Statistic {
  readonly statistic: (samples: readonly number[]) => number;
}

export type Combine = 'sum' | 'max' | 'min' | Statistic;

/** What a case returns: a number, or the samples of a number the arm combines with a statistic. */
export type Observations = Record<string, number | readonly number[]>;

/** The nearest-rank p-th percentile of the pooled samples (lab/util/statistics.ts, the lab's one definition). */
export function p(rank: number): Statistic {
  return { statistic: (samples) => percentile(samples, rank) };
}

function isStatistic(how: Combine | undefined): how is Statistic {
  return typeof how === 'object';
}

/**
 * One case's observations as numbers (samples reduced by their statistic), and its samples kept for
 * pooling. Samples for a number without a statistic, or a plain number for one with a statistic, are a
 * mistake in the suite: it throws, naming the number.
 */
export function caseNumbers(observed: Observations, how: Record<string, Combine> = {}): { numbers: Numbers; samples: Record<string, readonly number[]> } {
  const numbers: Numbers = {};
  const samples: Record<string, readonly number[]> = {};
  for (const [name, value] of Object.entries(observed)) {
    const combine = how[name];
    if (typeof value === 'number') {
      if (isStatistic(combine)) throw new TypeError(`${name}: the arm combines it with a statistic, so a case returns its samples (a number array), not ${value}`);
      numbers[name] = value;
    } else {
      if (!isStatistic(combine)) throw new TypeError(`${name}: a case returned samples; say in the arm's combine how to reduce them, e.g. { '${name}': p(99) }`);
      samples[name] = value;
      numbers[name] = combine.statistic(value);
    }
  }
  return { numbers, samples };
}

/** The arm's totals: each plain number summed (or max/min) over the cases, each statistic over the pooled samples. */
export function combine(cases: Array<{ numbers: Numbers; samples?: Record<string, readonly number[]> }>, how: Record<string, Combine> = {}): Numbers {
  const totals: Numbers = {};
  const pooled: Record<string, number[]> = {};
  for (const { numbers, samples = {} } of cases) {
    for (const [name, value] of Object.entries(numbers)) {
      const mode = how[name] ?? 'sum';
      if (isStatistic(mode)) {
        (pooled[name] ??= []).push(...samples[name]!);
        totals[name] ??= Number.NaN; // its place among the numbers; the statistic comes once all cases are pooled
        continue;
      }
      const previous = totals[name];
      totals[name] = previous === undefined ? value : mode === 'max' ? Math.max(previous, value) : mode === 'min' ? Math.min(previous, value) : previous + value;
    }
  }
  for (const [name, samples] of Object.entries(pooled)) totals[name] = (how[name] as Statistic).statistic(samples);
  return totals;
}
