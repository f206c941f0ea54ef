/**
 * Fault schedules as fast-check arbitraries: which fault, where, when (as a fraction of the workload,
 * so a schedule means the same for any workload size). Experiments map them onto nemesis calls.
 */
import fc from 'fast-check';
import type { FailpointName } from '../../src/contract.ts';

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

/**
 * One process life that dies at a failpoint: armed with `crash(skip=k)`, the process dies the (k+1)-th
 * time it reaches `failpoint`. A schedule is a list of lives, one after another (lab/kit/lives.ts).
 */
export interface Crash {
  failpoint: FailpointName;
  skip: number;
}

/** A hand-written life of a ❌ arm's fixed schedule: `crashAt('relay.after-mark', 2)`. */
export const crashAt = (failpoint: FailpointName, skip = 0): Crash => ({ failpoint, skip });

/** The LAB_FAILPOINTS spec that arms one life: `relay.after-mark=crash(skip=2)`. */
export function failpointSpec(crash: Crash): string {
  return `${crash.failpoint}=crash(skip=${crash.skip})`;
}

/** Lives dying at failpoints drawn from `failpoints`, each after `skip` passes (shrinks to fewer, earlier crashes). */
export function crashSchedule(
  failpoints: readonly FailpointName[],
  options: { skip?: { min?: number; max: number }; lives?: { min?: number; max: number } } = {},
): fc.Arbitrary<Crash[]> {
  const { skip = { max: 10 }, lives = { max: 3 } } = options;
  return fc.array(fc.record({ failpoint: fc.constantFrom(...failpoints), skip: fc.integer({ min: skip.min ?? 0, max: skip.max }) }), { minLength: lives.min ?? 1, maxLength: lives.max });
}
