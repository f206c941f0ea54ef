/**
 * Delivery checker, after Jepsen's queue and Kafka checkers. Compares what clients attempted (with the
 * outcome they saw) against what an independent observer saw downstream (the topic, the projection,
 * the notification gateway):
 *
 *   lost        acknowledged (ok), never seen
 *   duplicated  seen more than once
 *   unexpected  seen, never attempted
 *   recovered   outcome unknown (info), seen anyway — not an error, reported
 *   phantom     definitely failed (fail), seen anyway — the dual-write "produce then rollback" anomaly
 *
 * `info` operations are never counted as lost: their outcome is unknown by definition.
 */
import { verdict, type Verdict } from './verdict.ts';

export interface Attempt {
  id: string;
  outcome: 'ok' | 'fail' | 'info';
}

export function checkDelivery(attempts: Attempt[], observed: Iterable<string>, name = 'delivery'): Verdict {
  const seen = new Map<string, number>();
  for (const id of observed) seen.set(id, (seen.get(id) ?? 0) + 1);
  const attempted = new Map(attempts.map((attempt) => [attempt.id, attempt.outcome]));
  const lost = attempts.filter((a) => a.outcome === 'ok' && !seen.has(a.id)).map((a) => a.id);
  const recovered = attempts.filter((a) => a.outcome === 'info' && seen.has(a.id)).map((a) => a.id);
  const phantom = attempts.filter((a) => a.outcome === 'fail' && seen.has(a.id)).map((a) => a.id);
  const duplicated = [...seen].filter(([, n]) => n > 1).map(([id, n]) => ({ id, times: n }));
  const unexpected = [...seen.keys()].filter((id) => !attempted.has(id));
  const okCount = attempts.filter((a) => a.outcome === 'ok').length;
  return verdict(
    name,
    { lost, duplicated, unexpected, phantom, recovered },
    { attempted: attempts.length, acknowledged: okCount, observed: [...seen.values()].reduce((a, b) => a + b, 0), distinct: seen.size },
    ['lost', 'duplicated', 'unexpected', 'phantom'],
  );
}

/** Copies observed beyond one per distinct id (a delivery verdict's `observed − distinct`). */
export const extraCopies = (v: Verdict): number => v.counts.observed! - v.counts.distinct!;
