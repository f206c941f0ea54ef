/**
 * Bursts in a series of event times (ms): how E-008 turns the DB's statement log into "queries per
 * expiry" without asking the service. A hot key's refresh shows up as a burst of queries (one, or one
 * per reader in a stampede) separated from the next expiry's burst by a quiet period of about a TTL.
 *
 *   bursts([100, 101, 105, 3100, 3102], 1000)  → [{ start: 100, end: 105, count: 3 }, { start: 3100, end: 3102, count: 2 }]
 *   peakInWindow([0, 10, 50, 200], 100)        → 3   (most events in any 100 ms window)
 */

export interface Burst {
  start: number;
  end: number;
  count: number;
}

/** Groups sorted-or-not `times` into bursts: a gap of more than `gapMs` between two events starts a new burst. */
export function bursts(times: readonly number[], gapMs: number): Burst[] {
  const sorted = [...times].sort((a, b) => a - b);
  const found: Burst[] = [];
  for (const time of sorted) {
    const last = found.at(-1);
    if (last && time - last.end <= gapMs) {
      last.end = time;
      last.count += 1;
    } else found.push({ start: time, end: time, count: 1 });
  }
  return found;
}

/** The most events within any window of `windowMs` (a window starting at each event: the maximum is at one of them). */
export function peakInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  let first = 0;
  for (let last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= windowMs) first += 1;
    peak = Math.max(peak, last - first + 1);
  }
  return peak;
}
