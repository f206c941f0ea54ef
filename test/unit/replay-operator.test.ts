import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { replayCases, replayOperatorJobs, replayRequest } from '../../lab/workloads/replay.ts';

const parked = { deposits: ['d1', 'd2'], withdrawals: ['w1'], poison: ['p1'] };

describe('replay operator workload', () => {
  it('previews, then replays the deposits, then every transient failure, then the same again', () => {
    const jobs = replayOperatorJobs(parked, { operator: 'op', ratePerSecond: 5 });
    expect(jobs.map((j) => [j.name, j.dryRun, Object.fromEntries(j.results)])).toEqual([
      ['dry run', true, { d1: 'dry-run', d2: 'dry-run', w1: 'dry-run', p1: 'dry-run' }],
      ['deposits', false, { d1: 'replayed', d2: 'replayed', w1: 'filtered', p1: 'filtered' }],
      ['all transient', false, { d1: 'replayed', d2: 'replayed', w1: 'replayed', p1: 'filtered' }],
      ['again', false, { d1: 'replayed', d2: 'replayed', w1: 'replayed', p1: 'filtered' }],
    ]);
    expect(jobs.every((j) => j.operator === 'op' && j.ratePerSecond === 5 && j.reason.length > 0)).toBe(true);
  });

  it('asks the worker for exactly that (filter by event type and error class; dry run only for the preview)', () => {
    const [dry, deposits, all] = replayOperatorJobs(parked, { operator: 'op', ratePerSecond: 5 });
    expect(replayRequest(dry!)).toEqual({ operator: 'op', reason: 'preview the dead letters', ratePerSecond: 5, dryRun: true });
    expect(replayRequest(deposits!)).toMatchObject({ filter: { eventTypes: ['FundsDeposited'], errorClasses: ['FailpointError'] } });
    expect(replayRequest(all!)).toMatchObject({ filter: { errorClasses: ['FailpointError'] } });
    expect(replayRequest(all!)).not.toHaveProperty('dryRun');
  });

  it('generates outages with something to replay and something to filter', () => {
    fc.assert(fc.property(replayCases, (c) => c.deposits >= 1 && c.withdrawals >= 1 && c.poison >= 1 && c.limit > 0));
  });
});

describe('replay operator workload: repeats', () => {
  it('counts the records each job re-publishes that an earlier job had re-published (the duplicates the consumer skips)', () => {
    const jobs = replayOperatorJobs(parked, { operator: 'op', ratePerSecond: 5 });
    expect(jobs.map((j) => [j.name, j.repeats])).toEqual([['dry run', 0], ['deposits', 0], ['all transient', 2], ['again', 5]]);
  });
});
