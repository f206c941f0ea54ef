/**
 * Running fast-check properties in experiments: modest run counts by default, more at night, and a
 * failing ✅ arm prints the seed and path that replay its shrunk counterexample:
 *
 *   LAB_SEED=1234 LAB_PATH="3:1:0" npx vitest lab/e-001      replay one counterexample
 *   LAB_RUNS=50 npm run test:lab                              nightly: more generated cases
 *   LAB_SHRINK=1 npx vitest lab/e-001                          shrink a failure (slow: every step is a
 *                                                             real run against the cluster)
 *
 * By default the first failing case ends the property: a case of E-001 takes a minute, so shrinking
 * would run on until the test timeout and hide the failure; the seed and path replay that case.
 */
import fc from 'fast-check';

export function propertyParameters(defaultRuns: number): fc.Parameters<unknown> {
  const seed = process.env.LAB_SEED !== undefined ? Number(process.env.LAB_SEED) : Date.now() ^ (Math.random() * 0x100000000);
  const parameters: fc.Parameters<unknown> = {
    seed,
    numRuns: process.env.LAB_RUNS !== undefined ? Number(process.env.LAB_RUNS) : defaultRuns,
    endOnFailure: process.env.LAB_SHRINK !== '1',
    interruptAfterTimeLimit: process.env.LAB_TIME_LIMIT_MS !== undefined ? Number(process.env.LAB_TIME_LIMIT_MS) : undefined,
  };
  if (process.env.LAB_PATH) parameters.path = process.env.LAB_PATH;
  return parameters;
}

/**
 * A test timeout for a property of `defaultRuns` cases (LAB_RUNS overrides) that each take up to
 * `perCaseMs` (the kit gives a case up at its budget; the extra minute is for disposing its arena).
 */
export function propertyTimeout(perCaseMs: number, defaultRuns: number): number {
  const runs = process.env.LAB_RUNS !== undefined ? Number(process.env.LAB_RUNS) : defaultRuns;
  return perCaseMs * Math.max(1, runs) + 60_000;
}

