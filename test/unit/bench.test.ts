import { describe, expect, it } from 'vitest';
import { recordsPerSecond } from '../../bench/producer-perf.ts';
import { benchSettings } from '../../bench/settings.ts';
import { formatValue, renderTable } from '../../bench/table.ts';
import { benchAccounts, eventHistory } from '../../bench/workload.ts';

describe('bench: pure parts', () => {
  it('eventHistory is a valid history the idempotent consumer accepts: per account AccountOpened v1, then gapless deposits', () => {
    const accounts = benchAccounts(7);
    const events = eventHistory(100, accounts);
    expect(events).toHaveLength(100);
    const versions = new Map<string, number>();
    for (const event of events) {
      const previous = versions.get(event.aggregateId) ?? 0;
      expect(event.aggregateVersion).toBe(previous + 1);
      expect(event.eventType).toBe(previous === 0 ? 'AccountOpened' : 'FundsDeposited');
      versions.set(event.aggregateId, event.aggregateVersion);
    }
    expect([...versions.keys()].sort()).toEqual(accounts);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(100);
  });

  it('settings: the issue-sized defaults, and knobs that refuse nonsense', () => {
    const defaults = benchSettings({});
    expect(defaults).toMatchObject({ records: 100_000, repeats: 3, seconds: 15, accounts: 200, concurrency: 32, rates: [100, 500, 1000], perfRecords: 500_000 });
    expect(defaults.only).toEqual(['relay', 'consumer', 'command', 'e2e', 'perf']);
    expect(benchSettings({ LAB_BENCH_ONLY: 'perf, relay', LAB_BENCH_RECORDS: '20_000' })).toMatchObject({ only: ['relay', 'perf'], records: 20_000, perfRecords: 100_000 });
    expect(() => benchSettings({ LAB_BENCH_ONLY: 'relya' })).toThrow(/unknown section/);
    expect(() => benchSettings({ LAB_BENCH_REPEATS: '0' })).toThrow(/positive integer/);
    expect(() => benchSettings({ LAB_BENCH_RECORDS: '100' })).toThrow(/at least LAB_BENCH_ACCOUNTS/);
  });

  it('reads the records/sec of ProducerPerformance summary line', () => {
    expect(recordsPerSecond('500000 records sent, 83612.5 records/sec (16.72 MB/sec), 120.3 ms avg latency, 900.0 ms max latency.')).toBe(83612.5);
    expect(() => recordsPerSecond('Exception in thread "main"')).toThrow(/no summary line/);
  });

  it('table: median per row, every repetition with its load, the target verdict; unfinished and not-run values stay visible', () => {
    expect(formatValue(Number.POSITIVE_INFINITY, 'ms')).toBe('unfinished');
    expect(formatValue(Number.NaN, 'ms')).toBe('n/a');
    expect(formatValue(0.0044, 'ratio')).toBe('0.0044');
    expect(formatValue(0.456, 'ratio')).toBe('0.46');
    const table = renderTable([
      { heading: '1. a section' },
      { name: 'ratio', format: 'ratio', samples: [{ value: 0.5, load: 3 }, { value: 0.7, load: 4 }, { value: 0.4, load: 5 }], target: { op: '>=', value: 0.6 } },
      { name: 'p99', format: 'ms', samples: [{ value: 12, load: 1 }, { value: Number.NaN, load: Number.NaN }], target: { op: '<=', value: 250 } },
    ]);
    expect(table).toMatch(/ratio\s+0\.50\s+>= 0\.60 MISSED\s+0\.50 @ 3\.0 {3}0\.70 @ 4\.0 {3}0\.40 @ 5\.0/);
    expect(table).toMatch(/p99\s+12\.0\s+<= 250 met\s+12\.0 @ 1\.0 {3}n\/a/);
    expect(table).toContain('1. a section');
  });
});
