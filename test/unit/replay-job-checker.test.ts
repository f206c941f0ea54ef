import { describe, expect, it } from 'vitest';
import { checkReplayJob, type ReplayJobExpectation, type ReplayJobObservation, type ReplayResult } from '../../lab/checkers/replay.ts';

const job = (results: Array<[string, ReplayResult]>, dryRun = false): ReplayJobExpectation => ({ operator: 'op', reason: 'why', dryRun, ratePerSecond: 10, results: new Map(results) });
/** What a worker that did exactly `j` at 10/s leaves behind. */
function faithful(j: ReplayJobExpectation): ReplayJobObservation {
  const n = (r: ReplayResult) => [...j.results.values()].filter((x) => x === r).length;
  const replayed = [...j.results].filter(([, r]) => r === 'replayed').map(([id]) => id);
  return {
    report: { mode: j.dryRun ? 'dry-run' : 'replay', scanned: j.results.size, replayed: n('replayed'), filtered: n('filtered'), dryRun: n('dry-run'), failed: 0, durationMs: replayed.length * 100, ratePerSecond: 9.5 },
    audit: [...j.results].map(([eventId, result]) => ({ eventId, result, operator: j.operator, reason: j.reason, dryRun: j.dryRun })),
    published: replayed.map((eventId, i) => ({ eventId, timestamp: 1_000 + i * 100 })),
  };
}

describe('replay-job checker', () => {
  const filtered = job([['d1', 'replayed'], ['d2', 'replayed'], ['d3', 'replayed'], ['w1', 'filtered'], ['p1', 'filtered']]);

  it('passes a job done exactly as asked, and measures its rate', () => {
    const v = checkReplayJob(filtered, faithful(filtered));
    expect(v.valid).toBe(true);
    expect(v.counts).toMatchObject({ report: 0, audit: 0, published: 0, rate: 0, observedRate: 10, rateRatio: 0.95 });
  });

  it('passes a dry run that audits every record and publishes nothing', () => {
    const dry = job([['d1', 'dry-run'], ['p1', 'dry-run']], true);
    expect(checkReplayJob(dry, faithful(dry)).valid).toBe(true);
    expect(checkReplayJob(dry, { ...faithful(dry), published: [{ eventId: 'd1', timestamp: 1 }] }).counts.published).toBe(1);
  });

  it('flags a report that disagrees, audit rows that are missing, wrong or extra', () => {
    const o = faithful(filtered);
    const v = checkReplayJob(filtered, {
      ...o,
      report: { ...o.report, replayed: 2, failed: 1 },
      audit: [...o.audit.slice(1, 3), { ...o.audit[3]!, operator: 'someone else' }, o.audit[4]!, { ...o.audit[4]!, eventId: 'x' }],
    });
    expect(v.counts).toMatchObject({ report: 2, audit: 3 });
    expect(v.examples.report).toEqual([{ field: 'replayed', reported: 2, expected: 3 }, { field: 'failed', reported: 1, expected: 0 }]);
  });

  it('flags a selected record published twice or never, and one published that was not selected', () => {
    const o = faithful(filtered);
    const published = [o.published[0]!, o.published[0]!, o.published[1]!, { eventId: 'w1', timestamp: 1_300 }];
    const v = checkReplayJob(filtered, { ...o, published });
    expect(v.examples.published).toEqual([{ eventId: 'd1', copies: 2 }, { eventId: 'd3', copies: 0 }, { eventId: 'w1', notSelected: true }]);
  });

  it('flags a rate above the limit, a job shorter than its spacing, and records published all at once', () => {
    const o = faithful(filtered);
    expect(checkReplayJob(filtered, { ...o, report: { ...o.report, ratePerSecond: 12 } }).counts.rate).toBe(1);
    expect(checkReplayJob(filtered, { ...o, report: { ...o.report, durationMs: 150 } }).counts.rate).toBe(1);
    const burst = checkReplayJob(filtered, { ...o, published: o.published.map((r, i) => ({ ...r, timestamp: 1_000 + i })) });
    expect(burst.counts.rate).toBe(1);
    expect(burst.counts.observedRate).toBe(1_000);
  });
});
