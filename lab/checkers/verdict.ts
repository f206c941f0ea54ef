/**
 * What every checker returns: valid or not (or unknown when it could not judge), counts per anomaly,
 * and a few examples of each so a failure message says *which* events, not just how many.
 */
export interface Verdict {
  checker: string;
  valid: boolean | 'unknown';
  counts: Record<string, number>;
  examples: Record<string, unknown[]>;
}

export const maxExamples = 5;

export function verdict(checker: string, anomalies: Record<string, unknown[]>, extraCounts: Record<string, number> = {}, anomalyNames = Object.keys(anomalies)): Verdict {
  // Anomalies first, then the context counts: summaries read "lost 3, duplicated 0, … attempted 120".
  const counts: Record<string, number> = {};
  const examples: Record<string, unknown[]> = {};
  for (const [name, items] of Object.entries(anomalies)) {
    counts[name] = items.length;
    if (items.length) examples[name] = items.slice(0, maxExamples);
  }
  Object.assign(counts, extraCounts);
  return { checker, valid: anomalyNames.every((name) => (anomalies[name]?.length ?? 0) === 0), counts, examples };
}

/** One line for logs and reports: `delivery: lost 3, duplicated 0 …`. */
export function summarize(v: Verdict): string {
  const counts = Object.entries(v.counts)
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
  return `${v.checker}: ${v.valid === true ? 'valid' : v.valid === false ? 'INVALID' : 'unknown'} (${counts})`;
}
