/**
 * The replay operator workload, after Jepsen's bank workload: a generator (what the outage parked and
 * how fast the operator may replay), the operator's jobs against the replay-worker (POST /replays, each
 * an operation in the history), and their checker (lab/checkers/replay.ts).
 *
 *   const outage = await parkOutage(stream, c, { maxAttempts: 4, breakDependency: () => arm('consumer.apply', 'error()') });
 *   const jobs = replayOperatorJobs(outage.letters, { operator: 'e005-operator', ratePerSecond: c.limit });
 *   for (const job of jobs) {
 *     if (job.name === 'deposits') await fixTheCause();
 *     const report = await runReplayJob(worker.url, job, history);
 *     const verdict = checkReplayJob(job, { report, audit: await replayAudit(pool, report.replayId), published });
 *   }
 *
 * The operator works the careful way through dead letters a broken dependency left (transient
 * `errorClass`, e.g. FailpointError) next to real poison: a dry run before the fix (audits, publishes
 * nothing); the cause fixed, the deposits only (filter: event type + error class); every transient
 * failure (the deposits a second time); the very same replay again (the double click). Replays 2–4
 * re-publish records already applied: "replaying twice applies once" rests on the consumer's dedupe.
 */
import fc from 'fast-check';
import type { ParkedRecord } from '../checkers/dead-letter.ts';
import type { ReplayJobExpectation, ReplayResult } from '../checkers/replay.ts';
import { poisonRecord } from '../clients/poison-producer.ts';
import type { accountStream } from '../clients/record-sender.ts';
import type { History } from '../history/history.ts';
import type { EventEnvelope, ReplayReport } from '../../src/contract.ts';

/** What one generated outage parks: deposits and withdrawals that failed transiently, poison that cannot succeed. */
export const replayCases = fc.record({
  deposits: fc.integer({ min: 4, max: 10 }),
  withdrawals: fc.integer({ min: 2, max: 6 }),
  poison: fc.integer({ min: 1, max: 3 }),
  /** The operator's rate limit, publishes per second. */
  limit: fc.constantFrom(5, 10, 20),
});

export type ReplayCase = typeof replayCases extends fc.Arbitrary<infer C> ? C : never;

/**
 * The outage the operator cleans up after: `c.poison` business-invalid deposits (the DLQ at the first
 * attempt), then — `breakDependency()` — `c.deposits` deposits and `c.withdrawals` withdrawals that fail
 * every attempt (`transientClass`, the DLQ after `maxAttempts`). Returns what the DLQ should hold.
 */
export async function parkOutage(stream: ReturnType<typeof accountStream>, c: ReplayCase, o: { maxAttempts: number; transientClass?: string; breakDependency: () => Promise<void> }) {
  const parked: ParkedRecord[] = [];
  const poison = await Promise.all(Array.from({ length: c.poison }, (_, i) => poisonRecord(stream.sender.encode, 'invalid-amount', stream.accounts[i % stream.accounts.length]!)));
  for (const [i, p] of poison.entries()) parked.push({ ...p, ...(await stream.sender.send(stream.partitionOf(i), p.key, p.value, p.headers)), errorClass: 'invalid-amount', attempts: 1 });
  await o.breakDependency();
  const victims: EventEnvelope[] = [];
  for (let i = 0; i < c.deposits + c.withdrawals; i += 1) {
    const sent = await stream.send(i, (accountId) => (i < c.deposits ? { type: 'FundsDeposited', accountId, amount: 100 + i } : { type: 'FundsWithdrawn', accountId, amount: 10 + i }));
    parked.push({ ...sent, eventId: sent.e.eventId, key: sent.e.aggregateId, value: await stream.sender.encode(sent.e), errorClass: o.transientClass ?? 'FailpointError', attempts: o.maxAttempts });
    victims.push(sent.e);
  }
  const ids = (list: EventEnvelope[]) => list.map((e) => e.eventId);
  return { parked, victims, letters: { deposits: ids(victims.slice(0, c.deposits)), withdrawals: ids(victims.slice(c.deposits)), poison: poison.map((p) => p.eventId) } };
}

/** The dead letters by kind (event ids). */
export interface ParkedLetters {
  deposits: string[];
  withdrawals: string[];
  poison: string[];
}

export interface ReplayJob extends ReplayJobExpectation {
  name: 'dry run' | 'deposits' | 'all transient' | 'again';
  filter?: { eventTypes?: string[]; errorClasses?: string[] };
  /** Records replayed so far (this job included) that an earlier job had replayed: the consumer's skipped duplicates once it consumed them. */
  repeats: number;
}

/** The event ids a job re-publishes. */
export const replayedIds = (job: ReplayJobExpectation): string[] => [...job.results].filter(([, r]) => r === 'replayed').map(([id]) => id);

export function replayOperatorJobs(parked: ParkedLetters, options: { operator: string; ratePerSecond: number; transientClass?: string }): ReplayJob[] {
  const { operator, ratePerSecond, transientClass = 'FailpointError' } = options;
  const results = (deposits: ReplayResult, withdrawals: ReplayResult, poison: ReplayResult) =>
    new Map<string, ReplayResult>([...parked.deposits.map((id) => [id, deposits] as const), ...parked.withdrawals.map((id) => [id, withdrawals] as const), ...parked.poison.map((id) => [id, poison] as const)]);
  const job = (name: ReplayJob['name'], reason: string, dryRun: boolean, r: Map<string, ReplayResult>, filter?: ReplayJob['filter']): ReplayJob => ({ name, operator, reason, ratePerSecond, dryRun, results: r, repeats: 0, ...(filter ? { filter } : {}) });
  const jobs = [
    job('dry run', 'preview the dead letters', true, results('dry-run', 'dry-run', 'dry-run')),
    job('deposits', 'projection DB fixed: deposits first', false, results('replayed', 'filtered', 'filtered'), { eventTypes: ['FundsDeposited'], errorClasses: [transientClass] }),
    job('all transient', 'replay all transient failures', false, results('replayed', 'replayed', 'filtered'), { errorClasses: [transientClass] }),
    job('again', 'replay all transient failures, again', false, results('replayed', 'replayed', 'filtered'), { errorClasses: [transientClass] }),
  ];
  const seen = new Set<string>();
  let repeats = 0;
  for (const j of jobs) {
    for (const id of replayedIds(j)) if (seen.has(id)) repeats += 1; else seen.add(id);
    j.repeats = repeats;
  }
  return jobs;
}

/** The body of the job's POST /replays. */
export function replayRequest(job: ReplayJob): object {
  return { operator: job.operator, reason: job.reason, ratePerSecond: job.ratePerSecond, ...(job.dryRun ? { dryRun: true } : {}), ...(job.filter ? { filter: job.filter } : {}) };
}

/** Runs one job on the replay-worker at `url` (it answers when the job finished), as an operation of the operator. */
export async function runReplayJob(url: string, job: ReplayJob, history: History): Promise<ReplayReport> {
  return history.call('operator', 'replay', { job: job.name, ratePerSecond: job.ratePerSecond }, async () => {
    const response = await fetch(`${url}/replays`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(replayRequest(job)) });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`POST /replays answered ${response.status}: ${text}`);
    return JSON.parse(text) as ReplayReport;
  });
}
