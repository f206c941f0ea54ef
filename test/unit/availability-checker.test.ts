/** E-023's outage numbers from a history: availability, p99, hung requests, recovery after the heal. */
import { describe, expect, it } from 'vitest';
import { outageStats } from '../../lab/checkers/availability.ts';
import type { CompletedOperation } from '../../lab/history/history.ts';

const op = (f: string, start: number, end: number, type: 'ok' | 'info' = 'ok'): CompletedOperation => ({ process: 'w', f, invokeValue: undefined, type, value: undefined, start, end });

describe('outageStats', () => {
  it('counts the requests started in the window, the hung ones, and the recovery after the heal', () => {
    const ops = [
      op('read', 50, 60), // before the window
      op('read', 100, 3100, 'info'), // hung to the client timeout
      op('read', 3100, 6100, 'info'),
      op('read', 6100, 6200), // answered once healed
      op('write', 150, 160), // another kind
      op('read', 6300, 6350), // started after the heal at 6200: recovery ends at 6350
    ];
    expect(outageStats(ops, { start: 100, end: 6200 }, { f: 'read', clientTimeoutMs: 3000 })).toEqual({ requests: 3, availabilityPct: 33.3, p99Ms: 3000, timeouts: 2, recoveryMs: 150 });
  });

  it('says NaN, not 0 or 100, where nothing was measured', () => {
    const stats = outageStats([op('read', 0, 10, 'info')], { start: 100, end: 200 }, { f: 'read', clientTimeoutMs: 3000 });
    expect(stats.requests).toBe(0);
    expect(stats.availabilityPct).toBeNaN();
    expect(stats.recoveryMs).toBeNaN();
  });
});
