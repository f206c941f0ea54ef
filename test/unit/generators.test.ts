import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { faultScheduleArbitrary } from '../../lab/generators/faults.ts';
import { propertyParameters } from '../../lab/generators/run.ts';
import { workloadArbitrary } from '../../lab/generators/workload.ts';

describe('generators', () => {
  it('workloads reference existing accounts and never transfer to the same account', () => {
    fc.assert(
      fc.property(workloadArbitrary({ maxAccounts: 5, maxCommands: 50 }), (workload) => {
        for (const command of workload.commands) {
          if (command.kind === 'transfer') {
            expect(command.from).not.toBe(command.to);
            expect(command.to).toBeLessThan(workload.accounts);
          } else expect(command.account).toBeLessThan(workload.accounts);
          expect(command.amount).toBeGreaterThan(0);
        }
        expect(workload.commands.length).toBeGreaterThanOrEqual(20);
      }),
      { numRuns: 200 },
    );
  });

  it('fault schedules are ordered in time and draw from the given faults and targets', () => {
    fc.assert(
      fc.property(faultScheduleArbitrary(['kill', 'pause'] as const, ['relay-1', 'relay-2']), (schedule) => {
        expect(schedule.length).toBeGreaterThanOrEqual(1);
        for (let i = 1; i < schedule.length; i += 1) expect(schedule[i]!.at).toBeGreaterThanOrEqual(schedule[i - 1]!.at);
        for (const fault of schedule) {
          expect(['kill', 'pause']).toContain(fault.fault);
          expect(['relay-1', 'relay-2']).toContain(fault.target);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('replays a seed and path from the environment, and lets nightly runs raise the run count', () => {
    const saved = { ...process.env };
    try {
      process.env.LAB_SEED = '1234';
      process.env.LAB_PATH = '3:1';
      process.env.LAB_RUNS = '50';
      expect(propertyParameters(3)).toMatchObject({ seed: 1234, path: '3:1', numRuns: 50 });
      delete process.env.LAB_RUNS;
      delete process.env.LAB_PATH;
      expect(propertyParameters(3)).toMatchObject({ seed: 1234, numRuns: 3 });
      expect(propertyParameters(3).path).toBeUndefined();
    } finally {
      process.env = saved;
    }
  });
});
