/**
 * State checkers over direct reads of the stores:
 *   projection = domain    every account's projected balance and version equal the domain's
 *   cache = DB             after quiescence every cached balance equals the projection (absent = fine)
 *   conservation           money in = money out: sum of balances equals the sum of ledger movements
 *   effects once           each external side effect delivered at most once per event id
 */
import { verdict, type Verdict } from './verdict.ts';

export interface BalanceState {
  balance: number;
  version: number;
}

export function checkProjection(domain: Map<string, BalanceState>, projection: Map<string, BalanceState>): Verdict {
  const missing: unknown[] = [];
  const mismatched: unknown[] = [];
  const unexpected: unknown[] = [];
  for (const [account, expected] of domain) {
    const actual = projection.get(account);
    if (!actual) missing.push(account);
    else if (actual.balance !== expected.balance || actual.version !== expected.version) mismatched.push({ account, domain: expected, projection: actual });
  }
  for (const account of projection.keys()) if (!domain.has(account)) unexpected.push(account);
  return verdict('projection = domain', { missing, mismatched, unexpected }, { accounts: domain.size });
}

export function checkCache(db: Map<string, BalanceState>, cache: Map<string, BalanceState | undefined>): Verdict {
  const stale: unknown[] = [];
  const orphaned: unknown[] = [];
  let cached = 0;
  for (const [account, entry] of cache) {
    if (!entry) continue;
    cached += 1;
    const truth = db.get(account);
    if (!truth) orphaned.push(account);
    else if (entry.balance !== truth.balance || entry.version !== truth.version) stale.push({ account, cache: entry, db: truth });
  }
  return verdict('cache = DB', { stale, orphaned }, { keys: cache.size, cached });
}

export function checkConservation(expectedTotal: number, actualTotal: number, label = 'conservation of money'): Verdict {
  const difference = actualTotal - expectedTotal;
  return verdict(label, { imbalance: difference === 0 ? [] : [{ expected: expectedTotal, actual: actualTotal, difference }] }, { expected: expectedTotal, actual: actualTotal });
}

/** `deliveries`: event id → number of times the external system received it. */
export function checkEffectsOnce(deliveries: Map<string, number>, label = 'side effects once'): Verdict {
  const duplicated = [...deliveries].filter(([, n]) => n > 1).map(([id, times]) => ({ id, times }));
  const extra = duplicated.reduce((sum, d) => sum + d.times - 1, 0);
  return verdict(label, { duplicated }, { events: deliveries.size, extraDeliveries: extra });
}

/**
 * Staleness while live: for each read, how far behind the truth it was. `reads` carry the version a
 * client saw and when; `truth` the time each version became current (committed). Staleness of a read =
 * read time − commit time of the first version newer than the one it saw (0 if it saw the newest).
 */
export function stalenessMs(reads: Array<{ key: string; time: number; version: number }>, truth: Map<string, Array<{ version: number; time: number }>>): number[] {
  return reads.map((read) => {
    const newer = (truth.get(read.key) ?? []).filter((v) => v.version > read.version && v.time <= read.time).sort((a, b) => a.time - b.time)[0];
    return newer ? read.time - newer.time : 0;
  });
}
