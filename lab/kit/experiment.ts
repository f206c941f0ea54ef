/**
 * The experiment runner: a suite states what each arm claims and how one case runs; the runner owns the
 * rest — a fresh arena per case released when the case ends (pass or fail), a History per case, the
 * `[e-00x]` line, the numbers combined over cases (combine.ts: sums, or a statistic of pooled samples),
 * the expectations judged once, the report entry (also when the arm fails, with the command that
 * replays it) and the assertion.
 *
 *   const e004 = experiment({ id: 'E-004', title: '…', question: 'What does a crash mid-batch cost …?', suite: 'lab/e-004',
 *                             arena: (label) => createArena(env, `e004_${label}`, 6) });
 *   e004.arm('❌ commit before processing', {
 *     expect: { crashes: equals(1), lost: above(0) },
 *     run: async ({ arena, history }) => ({ crashes: …, lost: … }),
 *   });
 *   e004.property('✅ commit after the DB transaction', {
 *     cases: crashSchedule([...], { skip: { min: 0, max: 30 } }),
 *     expect: { lost: equals(0), crashes: equals('scheduled') },   // in every case
 *     sometimes: { crashes: atLeast(1) },                         // in at least one case
 *     run: async ({ arena, history, input }) => ({ lost: …, crashes: …, scheduled: input.length }),
 *   });
 *
 * After Jepsen (a test is a small map of db / client / nemesis / checker parts) and Vitest's fixtures
 * (a resource's teardown belongs to whoever handed it out). `runArm` is the core, without Vitest, so the
 * runner itself is unit tested on fake arms (test/unit/experiment-runner.test.ts).
 */
import fc from 'fast-check';
import { afterEach, describe, it } from 'vitest';
import { History } from '../history/history.ts';
import { disposeArenas } from '../infra/arena.ts';
import { pendingWaits } from '../infra/ports.ts';
import { propertyParameters, propertyTimeout } from '../generators/run.ts';
import { sampleCaseMetrics } from '../observability/arm-metrics.ts';
import { formatValue } from '../report/format.ts';
import { recordArm, type ArmResult, type ExpectationResult, type ReportTable } from '../report/results.ts';
import { deadline } from '../util/deadline.ts';
import { caseNumbers, combine, type Combine, type Observations } from './combine.ts';
import { describeEvaluation, evaluate, type Evaluation, type Expectations, type Numbers } from './expectations.ts';

export interface ExperimentSpec<A extends AsyncDisposable> {
  /** `E-004` */
  id: string;
  title: string;
  /** The question the experiment answers, as its header states it; the report shows it above the arms. */
  question: string;
  /** One line each: what runs, and what is done to it (the header says more). */
  setup?: string;
  fault?: string;
  /** The path that selects the suite: `lab/e-004` (for replay lines). */
  suite: string;
  /** A fresh, isolated arena for one case; the runner disposes it when the case ends. */
  arena: (label: string) => Promise<A>;
}

export interface CaseContext<A, C> {
  arena: A;
  history: History;
  /** The generated case (undefined for a plain arm). */
  input: C;
  /** 0-based number of the case within the arm. */
  index: number;
  /** Prints an `[e-00x] …` line. */
  log(line: string): void;
  /** Adds a table to the arm's entry in the run report (and prints it as `[e-00x]` lines). */
  table(table: ReportTable): void;
}

export interface ArmSpec<A, C = undefined> {
  /** Short, for the arena's name (`before` → database `<prefix>_e004_before0_…`). */
  label?: string;
  /** This arm's own kind of arena, when it differs from the experiment's. */
  arena?: (label: string) => Promise<A>;
  /** Claims every case must satisfy. */
  expect?: Expectations;
  /** Claims at least one case must satisfy: the fault path really fired. An arm where none did fails. */
  sometimes?: Expectations;
  /** How a number combines over cases in the arm's totals (default: sum); samples need a statistic, e.g. `p(99)` (combine.ts). */
  combine?: Record<string, Combine>;
  /**
   * Budget of one case (default 120 s). A case that overruns it fails with what it was waiting for
   * (lab/infra/ports.ts `pendingWaits`) and the replay line, and its arena is disposed: a hung case
   * must not end as Vitest's bare "Test timed out", which names neither.
   */
  caseTimeoutMs?: number;
  /** Runs one case and returns what it observed: numbers, and samples for the numbers `combine` pools. */
  run(context: CaseContext<A, C>): Promise<Observations>;
}

export interface PropertySpec<A, C> extends ArmSpec<A, C> {
  cases: fc.Arbitrary<C>;
  /** Generated cases per run (LAB_RUNS overrides). */
  runs?: number;
}

/** Where results go: the run report and the console (unit tests pass their own). */
export interface ArmSink {
  record(result: ArmResult & { history?: History }): void;
  log(line: string): void;
}

export interface ArmOutcome {
  holds: boolean;
  totals: Numbers;
  cases: number;
  evaluations: Evaluation[];
  replay: string;
  error?: unknown;
}

/** Thrown by a case whose "always" expectations do not hold. */
export class ExpectationFailure extends Error {
  constructor(readonly failed: Evaluation[], index: number) {
    super(`case ${index}: ${failed.map(describeEvaluation).join('; ')}`);
    this.name = 'ExpectationFailure';
  }
}

interface CaseRecord {
  index: number;
  numbers: Numbers;
  samples: Record<string, readonly number[]>;
  always: Evaluation[];
  sometimes: Evaluation[];
}

export function logPrefix(id: string): string {
  return `[${id.toLowerCase()}]`;
}

export function consoleSink(id: string): ArmSink {
  return { record: recordArm, log: (line) => console.log(`${logPrefix(id)} ${line}`) };
}

/** The command that re-runs one arm (and, for a property, its failing case). */
export function replayCommand(suite: string, arm: string, property?: { seed: number; path?: string }): string {
  const pattern = arm.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/'/g, `'\\''`);
  const env = property ? `LAB_SEED=${property.seed} ${property.path ? `LAB_PATH="${property.path}" ` : ''}` : '';
  return `${env}npx vitest run ${suite} -t '${pattern}'`;
}

/**
 * Runs an arm: one case (`property` undefined) or generated cases. Records it through `sink` whatever
 * happens; resolves with the outcome when it holds, rejects (naming the failed expectations and the
 * replay command) when it does not.
 */
export async function runArm<A extends AsyncDisposable, C>(
  experiment: Omit<ExperimentSpec<AsyncDisposable>, 'arena'> & { arena?: (label: string) => Promise<AsyncDisposable> },
  arm: string,
  spec: ArmSpec<A, C> & Partial<Pick<PropertySpec<A, C>, 'cases' | 'runs'>>,
  sink: ArmSink = consoleSink(experiment.id),
): Promise<ArmOutcome> {
  const cases: CaseRecord[] = [];
  const tables: ReportTable[] = [];
  let lastHistory: History | undefined;
  let failingHistory: History | undefined;
  const label = (index: number) => `${(spec.label ?? 'arm').toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 20)}${index}`;

  let started = 0;
  const runCase = async (input: C): Promise<void> => {
    const index = started++;
    const history = new History(`${experiment.id} ${arm} #${index}`);
    const startedAt = Date.now();
    lastHistory = history;
    let arena: A | undefined;
    try {
      // Without an arena of its own, an arm gets the experiment's (experiment() types A as that one).
      const open = (spec.arena ?? experiment.arena) as ((label: string) => Promise<A>) | undefined;
      if (!open) throw new Error(`${experiment.id} ${arm}: no arena (give the experiment or the arm one)`);
      const table = (t: ReportTable) => {
        tables.push(spec.cases === undefined ? t : { ...t, title: `${t.title} (case ${index})` });
        sink.log([t.title, t.columns.join(' | '), ...t.rows.map((row) => row.join(' | ').replace(/\n/g, ' '))].join('\n  '));
      };
      const body = async () => spec.run({ arena: (arena = await open(label(index))), history, input, index, log: sink.log, table });
      const { numbers, samples } = caseNumbers(await withinBudget(body(), spec.caseTimeoutMs ?? defaultCaseTimeoutMs, index), spec.combine);
      const record = { index, numbers, samples, always: evaluate(spec.expect, numbers, 'always'), sometimes: evaluate(spec.sometimes, numbers, 'sometimes') };
      cases.push(record);
      const failed = record.always.filter((e) => !e.holds);
      if (failed.length) throw new ExpectationFailure(failed, index);
    } catch (error) {
      failingHistory ??= history;
      throw error;
    } finally {
      // What the cluster's Prometheus saw of this arena during the case, drawn under its fault windows.
      const prefix = (arena as { id?: unknown } | undefined)?.id;
      if (typeof prefix === 'string') await sampleCaseMetrics(history, { prefix, startedAt });
      await arena?.[Symbol.asyncDispose]();
    }
  };

  let error: unknown;
  let replay = replayCommand(experiment.suite, arm);
  let seed: number | undefined;
  if (spec.cases === undefined) {
    try {
      await runCase(undefined as C);
    } catch (caught) {
      error = caught;
    }
  } else {
    const parameters = propertyParameters(spec.runs ?? 2) as fc.Parameters<[C]>;
    seed = parameters.seed;
    const details = await fc.check(fc.asyncProperty(spec.cases, runCase), parameters);
    if (details.failed) {
      error = details.errorInstance;
      replay = replayCommand(experiment.suite, arm, { seed: details.seed, path: details.counterexamplePath ?? undefined });
      seed = details.seed;
      if (details.counterexample) sink.log(`${arm}: failing case ${JSON.stringify(details.counterexample[0])}`);
    }
  }

  const totals = combine(cases, spec.combine);
  const property = spec.cases !== undefined;
  const always = summarizeAlways(spec.expect, cases, property);
  const sometimes = summarizeSometimes(spec.sometimes, cases, totals);
  const evaluations = [...always, ...sometimes];
  const holds = error === undefined && evaluations.every((e) => e.holds);

  const expected = [
    always.length ? `${always.map((e) => e.expected).join(', ')}${property ? ' in every case' : ''}` : '',
    sometimes.length ? `${sometimes.map((e) => e.expected).join(', ')} in at least one case` : '',
  ].filter(Boolean).join('; ');
  const shown = [...new Set(Object.entries({ ...spec.expect, ...spec.sometimes }).flatMap(([name, x]) => (x.reference ? [name, x.reference] : [name])))];
  const observed = [
    (property ? `${cases.length} cases: ` : '') + shown.map((name) => `${name} ${formatValue(totals[name])}`).join(', '),
    ...sometimes.map((e) => `${e.expected} in ${e.over.held} of ${cases.length} cases`),
    ...(error !== undefined ? [`failed: ${firstLine(error)}`] : []),
  ].join('; ');
  const numbers: Numbers = property ? { cases: cases.length, ...totals } : totals;

  sink.log(`${arm}: ${Object.entries(numbers).map(([k, v]) => `${k} ${formatValue(v)}`).join(', ')} — ${holds ? 'as expected' : `NOT as expected; replay: ${replay}`}`);
  const history = failingHistory ?? lastHistory;
  sink.record({
    experiment: experiment.id, arm, title: experiment.title, question: experiment.question,
    ...(experiment.setup ? { setup: experiment.setup } : {}),
    ...(experiment.fault ? { fault: experiment.fault } : {}),
    expected, observed, holds, numbers, replay,
    expectations: evaluations.map(({ name, kind, expected, observed, holds, over }) => ({ name, kind, expected, observed, holds, ...(over && property ? { over } : {}) })),
    ...(error !== undefined ? { error: errorText(error) } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(tables.length ? { tables } : {}),
    ...(history ? { history } : {}),
  });

  const outcome: ArmOutcome = { holds, totals, cases: cases.length, evaluations, replay, ...(error !== undefined ? { error } : {}) };
  if (holds) return outcome;
  const failed = evaluations.filter((e) => !e.holds).map((e) => (e.kind === 'sometimes' ? `${e.expected} in no case of ${cases.length}: the fault never fired` : describeEvaluation(e)));
  // A case that threw comes first: its error is the cause, and with no case completed every expectation
  // would only say "observed nothing" (a CI run's E-005 failure read as ten of those before the TypeError).
  const reasons = error === undefined ? failed : [`a case failed before it returned its numbers: ${errorText(error)}`, ...(cases.length ? failed : [])];
  throw new Error(`${experiment.id} ${arm} did not hold: ${reasons.join('\n')}\n\nreplay: ${replay}`, { cause: error });
}

const defaultCaseTimeoutMs = 120_000;

/** Thrown for a case that overran its budget: what it was still waiting for says where it hung. */
export class CaseTimeoutError extends Error {
  override readonly name = 'CaseTimeoutError';
}

/** `work`, or a CaseTimeoutError naming the pending waits once `budgetMs` has passed. */
function withinBudget<T>(work: Promise<T>, budgetMs: number, index: number): Promise<T> {
  return deadline(work, budgetMs, () => {
    const waits = pendingWaits();
    return new CaseTimeoutError(`case ${index} did not finish within ${budgetMs} ms; ${waits.length ? `still waiting for ${waits.join('; ')}` : 'no waitFor was in progress (a client call or a step without a timeout hung)'}`);
  });
}

type ArmEvaluation = Evaluation & Pick<ExpectationResult, 'over'>;

/** How one expectation fared over the cases of a generated arm (the report says which case a value is from). */
function overCases(judged: Array<{ index: number; evaluation: Evaluation }>, failing?: { index: number }): NonNullable<ExpectationResult['over']> {
  const values = judged.map((j) => j.evaluation.observed).filter((v): v is number => v !== undefined);
  return {
    cases: judged.length,
    held: judged.filter((j) => j.evaluation.holds).length,
    ...(values.length ? { min: Math.min(...values), max: Math.max(...values) } : {}),
    ...(failing ? { failingCase: failing.index } : {}),
  };
}

/**
 * "Always" expectations over the arm, judged per case. The row's value is the first case that broke the
 * expectation, else the last case's; for generated cases `over` adds the range over all cases, so a
 * row never passes one case's value off as the arm's.
 */
function summarizeAlways(expectations: Expectations | undefined, cases: CaseRecord[], property: boolean): ArmEvaluation[] {
  return Object.keys(expectations ?? {}).map((name) => {
    const judged = cases.map((c) => ({ index: c.index, evaluation: c.always.find((e) => e.name === name)! }));
    const broken = judged.find((j) => !j.evaluation.holds);
    const shown = (broken ?? judged.at(-1))?.evaluation ?? { name, kind: 'always', expected: `${name} ${expectations![name]!.text}`, observed: undefined, holds: false };
    return property ? { ...shown, over: overCases(judged, broken) } : shown;
  });
}

/** "Sometimes" expectations: hold when at least one case held them; the value is the arm's total. */
function summarizeSometimes(expectations: Expectations | undefined, cases: CaseRecord[], totals: Numbers): Array<ArmEvaluation & { over: NonNullable<ExpectationResult['over']> }> {
  return Object.keys(expectations ?? {}).map((name) => {
    const judged = cases.map((c) => ({ index: c.index, evaluation: c.sometimes.find((e) => e.name === name)! }));
    const over = overCases(judged);
    return { name, kind: 'sometimes', expected: judged[0]?.evaluation.expected ?? `${name} ${expectations![name]!.text}`, observed: totals[name], holds: over.held > 0, over };
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function firstLine(error: unknown): string {
  return errorText(error).split('\n')[0]!.slice(0, 300);
}

/**
 * Declares an experiment in a suite: each `.arm` / `.property` becomes one Vitest test that runs
 * through `runArm`. Arenas a timed-out case left behind are disposed after each test as a safety net.
 */
export function experiment<A extends AsyncDisposable>(spec: ExperimentSpec<A>) {
  type Own<B> = { arena: (label: string) => Promise<B> };
  afterEach(disposeArenas);
  const sink = consoleSink(spec.id);
  const builder = {
    /** One case: a deterministic arm (❌ arms reproduce with certainty). */
    arm<B extends AsyncDisposable = A>(name: string, arm: ArmSpec<B> & (B extends A ? unknown : Own<B>)) {
      describe(`${spec.id} ${spec.title}`, () => it(name, async () => void (await runArm<B, undefined>(spec, name, arm, sink)), (arm.caseTimeoutMs ?? defaultCaseTimeoutMs) + 60_000));
      return builder;
    },
    /** Generated cases (fast-check): LAB_RUNS, LAB_SEED, LAB_PATH, LAB_SHRINK apply. */
    property<C, B extends AsyncDisposable = A>(name: string, property: PropertySpec<B, C> & (B extends A ? unknown : Own<B>)) {
      const timeout = propertyTimeout(property.caseTimeoutMs ?? defaultCaseTimeoutMs, property.runs ?? 2);
      describe(`${spec.id} ${spec.title}`, () => it(name, async () => void (await runArm<B, C>(spec, name, property, sink)), timeout));
      return builder;
    },
    /** Prints an `[e-00x] …` line. */
    log: sink.log,
  };
  return builder;
}
