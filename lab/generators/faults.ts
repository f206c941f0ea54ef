/**
 * Fault schedules as fast-check arbitraries: which fault, where, when (as a fraction of the workload,
 * so a schedule means the same for any workload size). Experiments map them onto nemesis calls.
 */
import fc from 'fast-check';

export interface ScheduledFault<F extends string = string> {
  /** When, as a fraction of the workload's commands (0 = before the first). */
  at: number;
  fault: F;
  target: string;
}

export function faultScheduleArbitrary<F extends string>(faults: readonly F[], targets: readonly string[], options: { minFaults?: number; maxFaults?: number } = {}): fc.Arbitrary<Array<ScheduledFault<F>>> {
  const { minFaults = 1, maxFaults = 4 } = options;
  return fc
    .array(
      fc.record({
        at: fc.integer({ min: 0, max: 99 }).map((n) => n / 100),
        fault: fc.constantFrom(...faults),
        target: fc.constantFrom(...targets),
      }),
      { minLength: minFaults, maxLength: maxFaults },
    )
    .map((schedule) => schedule.sort((a, b) => a.at - b.at));
}
