/**
 * Named expectations: what an arm claims about the numbers a case observed, stated once and used
 * twice — for the assertion that fails the test and for the report's expected / observed / holds
 * columns. No suite writes a `holds:` expression that restates its `expect` calls.
 *
 *   expect:    { lost: equals(0), crashes: equals('scheduled') }    every case (an "always" property)
 *   sometimes: { crashes: atLeast(1) }                             at least one case of the arm: the
 *                                                                   fault path really fired
 *
 * A key names one of the numbers the case returned; a string target names another (`equals('crashes')`
 * reads "lost = crashes"). A number the case did not return fails the expectation: a typo never passes.
 */

export type Numbers = Record<string, number>;

export interface Expectation {
  /** The claim without its subject: `= 0`, `≥ 1`, `= crashes`. */
  readonly text: string;
  /** The number another number is compared with, when the target is a name (for the observed column). */
  readonly reference?: string;
  test(value: number, numbers: Numbers): boolean;
}

function comparison(symbol: string, holds: (value: number, target: number) => boolean) {
  return (target: number | string): Expectation => ({
    text: `${symbol} ${target}`,
    ...(typeof target === 'string' ? { reference: target } : {}),
    test: (value, numbers) => {
      const against = typeof target === 'number' ? target : numbers[target];
      return against !== undefined && Number.isFinite(value) && holds(value, against);
    },
  });
}

export const equals = comparison('=', (v, t) => v === t);
export const atLeast = comparison('≥', (v, t) => v >= t);
export const above = comparison('>', (v, t) => v > t);
export const atMost = comparison('≤', (v, t) => v <= t);
export const below = comparison('<', (v, t) => v < t);

export type Expectations = Record<string, Expectation>;
export type ExpectationKind = 'always' | 'sometimes';

/** One expectation judged on one case's numbers. */
export interface Evaluation {
  name: string;
  kind: ExpectationKind;
  expected: string;
  observed: number | undefined;
  holds: boolean;
}

/** Judges each expectation exactly once against `numbers`. */
export function evaluate(expectations: Expectations | undefined, numbers: Numbers, kind: ExpectationKind): Evaluation[] {
  return Object.entries(expectations ?? {}).map(([name, expectation]) => {
    const observed = numbers[name];
    return { name, kind, expected: `${name} ${expectation.text}`, observed, holds: observed !== undefined && expectation.test(observed, numbers) };
  });
}

/** `lost = 0 ✗ (observed 3)` */
export function describeEvaluation(e: Evaluation): string {
  return `${e.expected} ${e.holds ? '✓' : '✗'} (observed ${e.observed ?? 'nothing: the case returned no such number'})`;
}
