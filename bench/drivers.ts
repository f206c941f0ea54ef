/**
 * The two ways the bench applies load.
 *
 * closedLoop  `concurrency` workers, each starting its next operation when its last one ends: the most
 *             the system does at that concurrency (throughput benches). Operations are numbered
 *             0, 1, 2 … across workers, so operation i can pick account i mod n.
 * paced       open loop: operation i is started at start + i / rate whatever the earlier ones are doing
 *             (a slow system does not slow the arrivals down, as with real clients). Operations due in
 *             the same timer tick start together, so 1,000/s does not need a 1 ms timer. An arrival
 *             that finds `maxInFlight` operations unanswered is skipped and counted: a system that
 *             cannot keep up shows as an achieved rate below the target instead of an unbounded queue
 *             that keeps the bench busy for an hour after the phase.
 */
import { sleep } from '../lab/infra/ports.ts';

export async function closedLoop(concurrency: number, seconds: number, operation: (i: number) => Promise<unknown>, firstIndex = 0): Promise<{ completed: number; seconds: number; next: number }> {
  let next = firstIndex;
  let completed = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      await operation(next++);
      completed += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { completed, seconds: (performance.now() - started) / 1000, next };
}

export interface PacedResult<T> {
  results: T[];
  /** Arrivals not sent because `maxInFlight` operations were still unanswered. */
  skipped: number;
  /** Operations completed per second, from the first start to the last completion. */
  achievedRate: number;
}

export async function paced<T>(rate: number, seconds: number, operation: (i: number) => Promise<T>, maxInFlight = Number.POSITIVE_INFINITY): Promise<PacedResult<T>> {
  const total = Math.max(1, Math.round(rate * seconds));
  const started = performance.now();
  const pending: Array<Promise<T>> = [];
  let lastDone = started;
  let failed = false;
  let inFlight = 0;
  let skipped = 0;
  for (let i = 0; i < total && !failed; ) {
    const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
    for (; i < due; i += 1) {
      if (inFlight >= maxInFlight) {
        skipped += 1;
        continue;
      }
      inFlight += 1;
      const done = operation(i).then((result) => {
        inFlight -= 1;
        lastDone = performance.now();
        return result;
      });
      // Observed at once (a rejection must not go unhandled until Promise.all below), and it stops the arrivals.
      done.catch(() => (failed = true));
      pending.push(done);
    }
    if (i < total) await sleep(Math.max(1, started + (i * 1000) / rate - performance.now()));
  }
  const results = await Promise.all(pending);
  return { results, skipped, achievedRate: results.length / ((lastDone - started) / 1000) };
}
