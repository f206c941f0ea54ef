import { describe, expect, it } from 'vitest';
import { History } from '../../lab/history/history.ts';
import { offsetGaps, offsetValues } from '../../lab/observe/offsets.ts';
import { sampledChart, stepRuns } from '../../lab/report/chart.ts';

describe('offset samples in the history', () => {
  it('keeps each series in time order and leaves out what was not observable', () => {
    const history = new History('t');
    history.sample('offsets p0', { HW: 3, LSO: 3, 'LEO b3': 3 }, 10);
    history.sample('ISR p0', { 'in-sync replicas': 3 }, 10);
    history.sample('offsets p0', { HW: 3, LSO: 3, 'LEO b3': undefined }, 5); // recorded late, taken earlier
    history.sample('offsets p0', { HW: Number.NaN, LSO: 4 }, 20);
    const samples = history.samples();
    expect([...samples.keys()]).toEqual(['offsets p0', 'ISR p0']);
    expect(samples.get('offsets p0')).toEqual([
      { t: 5, values: { HW: 3, LSO: 3 } },
      { t: 10, values: { HW: 3, LSO: 3, 'LEO b3': 3 } },
      { t: 20, values: { LSO: 4 } },
    ]);
    // Samples are neither operations nor faults.
    expect(history.operations()).toEqual([]);
    expect(history.faultWindows()).toEqual([]);
  });

  it('names a partition sample’s values per replica, HW and LSO; a broker that did not answer has none', () => {
    expect(offsetValues({ partition: 0, leader: 1, isr: [1, 2], leo: { 1: 13, 2: 13 }, hw: 3, lso: 3 }, [1, 2, 3])).toEqual({ 'LEO b1': 13, 'LEO b2': 13, 'LEO b3': undefined, HW: 3, LSO: 3 });
  });
});

describe('offsetGaps', () => {
  it('lists exactly the offsets a reader never saw in a range (aborted records, markers)', () => {
    expect(offsetGaps([0, 1, 2, 6, 8], 0, 10)).toEqual([3, 4, 5, 7, 9]);
    expect(offsetGaps([5, 6], 5, 7)).toEqual([]);
    expect(offsetGaps([], 4, 4)).toEqual([]);
  });
});

describe('sampledChart', () => {
  const points: Array<{ t: number; values: Record<string, number> }> = [
    { t: 0, values: { HW: 3, 'LEO b3': 3 } },
    { t: 1000, values: { HW: 3 } }, // broker 3 paused: its line breaks
    { t: 2000, values: { HW: 13, 'LEO b3': 13 } },
  ];

  it('breaks a line where a sample lacks its value', () => {
    expect(stepRuns(points, 'HW')).toEqual([[[0, 3], [1000, 3], [2000, 13]]]);
    expect(stepRuns(points, 'LEO b3')).toEqual([[[0, 3]], [[2000, 13]]]);
  });

  it('draws one panel per series as step lines with the fault windows, all text escaped', () => {
    const svg = sampledChart({ experiment: 'E-007', arm: '<arm>', sampled: [{ series: 'offsets <p0>', points }], faults: [{ fault: 'pause', target: 'broker-3', start: 500, end: 1800 }] });
    expect(svg).toMatch(/^<svg /);
    expect(svg).toContain('offsets &lt;p0&gt;');
    expect(svg).not.toContain('<p0>');
    expect(svg).toContain('pause broker-3');
    expect(svg.match(/<path /g)).toHaveLength(3); // HW once, LEO b3 in two runs
    expect(svg).toMatch(/d="M[\d.]+,[\d.]+H[\d.]+V[\d.]+H[\d.]+V[\d.]+"/); // a step line: horizontal, then vertical
    expect(sampledChart({ experiment: 'E-1', arm: 'a' })).toBe('');
  });
});

describe('kafka-transactions.sh tables', () => {
  it('reads the tab-separated table after the tool’s log lines', async () => {
    const { parseTable } = await import('../../lab/observe/transactions.ts');
    const output = [
      '[2026-12-06 03:29:51,679] INFO AdminClientConfig values: ',
      '\tbootstrap.servers = [127.0.0.1:42179]',
      'ProducerId\tProducerEpoch\tLatestCoordinatorEpoch\tLastSequence\tLastTimestamp\tCurrentTransactionStartOffset\t',
      '1002      \t0            \t4                     \t12          \t1796527779486\t15                           \t',
      ' ',
    ].join('\n');
    expect(parseTable(output, 'ProducerId')).toEqual([{ ProducerId: '1002', ProducerEpoch: '0', LatestCoordinatorEpoch: '4', LastSequence: '12', LastTimestamp: '1796527779486', CurrentTransactionStartOffset: '15' }]);
    expect(parseTable('Topic\tPartition\tProducerId\t\n \n', 'Topic')).toEqual([]); // find-hanging found nothing
    expect(parseTable('no table here', 'Topic')).toEqual([]);
  });
});

describe('the run report with sampled series', () => {
  it('draws an arm’s sampled offsets in its section, without an empty throughput timeline', async () => {
    const { renderReport } = await import('../../lab/report/render.ts');
    const { sampleMeta } = await import('../../lab/report/sample.ts');
    const arm = {
      experiment: 'E-007', title: 'offsets', arm: '✅ read_committed', expected: 'e', observed: 'o', holds: true, numbers: { hwAdvanced: 0 },
      sampled: [{ series: 'offsets p0', points: [{ t: 0, values: { HW: 3, LSO: 3 } }, { t: 400, values: { HW: 13, LSO: 3 } }] }],
      faults: [{ fault: 'pause', target: 'broker-3', start: 100, end: 300 }],
    };
    const html = renderReport([arm], sampleMeta());
    expect(html).toContain('offsets p0 as sampled over time, 1 fault window');
    expect(html).not.toContain('no timeline recorded');
  });
});
