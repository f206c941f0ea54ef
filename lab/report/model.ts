/**
 * The report model: what the run report shows, built from the recorded arm results and the run's
 * metadata, before any markup. The page (render.ts) only lays it out.
 *
 *   const model = reportModel(readResults(runDir), meta, tests);
 *   model.status            // { healthy: false, text: '3 of 4 arms as expected · tests: 6 passed, 1 failed' }
 *   model.experiments[0]    // { id: 'E-002', title, question, arms: [{ anchor: 'arm-e-002-direct', expectations, … }] }
 *
 * Experiments are ordered by id (E-2 before E-10), arms in the order they were recorded. Results of
 * suites not on the kit (no question, no named expectations) are shown with what they have.
 */
import type { ArmResult, ExpectationResult } from './results.ts';
import { formatDate, formatDuration, observedText, plural } from './format.ts';

export interface VitestSummary {
  passed: number;
  failed: number;
  skipped?: number;
  durationMs: number;
  /** Test files of the run, relative to the repository. */
  files: string[];
  /** 'passed' | 'failed' | 'interrupted' (Vitest's TestRunEndReason). */
  reason?: string;
  unhandledErrors?: string[];
}

export interface ReportMeta {
  runId: string;
  startedAt: string;
  finishedAt: string;
  provider?: string;
  vitest: VitestSummary;
}

export interface TestOutcome {
  file: string;
  name: string;
  state: 'passed' | 'failed' | 'skipped' | 'pending';
  durationMs?: number;
  errors?: string[];
}

/** What report.json holds. */
export interface RunReport {
  meta: ReportMeta;
  results: ArmResult[];
  tests: TestOutcome[];
}

/** One expectation row of an arm: expected / observed / holds, "sometimes" ones marked. */
export interface ExpectationRow {
  name: string;
  kind: ExpectationResult['kind'];
  expected: string;
  /** What was observed, saying over which case(s) (format.ts `observedText`). */
  observed: string;
  holds: boolean;
}

export interface ArmModel {
  /** The arm's anchor in the page (unique). */
  anchor: string;
  result: ArmResult;
  expectations: ExpectationRow[];
  /** Shown only when the arm did not hold. */
  replay?: string;
}

export interface ExperimentModel {
  id: string;
  title: string;
  question?: string;
  setup?: string;
  fault?: string;
  arms: ArmModel[];
}

export interface ReportModel {
  title: string;
  /** `2025-11-23 22:40:31 UTC → 2025-11-23 22:43:12 UTC · 2 min 41 s · provider local · 3 files` pieces. */
  meta: { started: string; finished: string; duration: string; provider?: string; files: number };
  status: { healthy: boolean; text: string };
  /** Every arm, in report order (the summary table). */
  arms: ArmModel[];
  experiments: ExperimentModel[];
  tests: { all: TestOutcome[]; failed: TestOutcome[]; unhandledErrors: string[] };
}

export function reportModel(results: ArmResult[], meta: ReportMeta, tests: TestOutcome[] = []): ReportModel {
  const anchors = new Anchors();
  const arms = sortResults(results).map((result): ArmModel => ({
    anchor: anchors.of(result),
    result,
    expectations: (result.expectations ?? []).map(expectationRow),
    ...(!result.holds && result.replay ? { replay: result.replay } : {}),
  }));
  const holding = results.filter((r) => r.holds).length;
  const vitest = meta.vitest;
  const healthy = holding === results.length && vitest.failed === 0 && !vitest.unhandledErrors?.length;
  const status = [
    results.length ? `${holding} of ${plural(results.length, 'arm')} as expected` : 'no arms recorded',
    ` · tests: ${vitest.passed} passed, ${vitest.failed} failed${vitest.skipped ? `, ${vitest.skipped} skipped` : ''}`,
    vitest.reason && vitest.reason !== 'passed' && vitest.reason !== 'failed'
      ? ` · ${vitest.reason === 'interrupted' ? 'run interrupted: the report shows what finished' : vitest.reason}`
      : '',
  ].join('');
  return {
    title: `Reliability Lab — run ${meta.runId}`,
    meta: {
      started: formatDate(meta.startedAt),
      finished: formatDate(meta.finishedAt),
      duration: formatDuration(vitest.durationMs),
      ...(meta.provider ? { provider: meta.provider } : {}),
      files: vitest.files.length,
    },
    status: { healthy, text: status },
    arms,
    experiments: groupByExperiment(arms),
    tests: { all: tests, failed: tests.filter((t) => t.state === 'failed'), unhandledErrors: vitest.unhandledErrors ?? [] },
  };
}

export function expectationRow(e: ExpectationResult): ExpectationRow {
  return { name: e.name, kind: e.kind, expected: e.expected, observed: observedText(e), holds: e.holds };
}

/** Arms grouped by experiment; the experiment's title, question, setup and fault from the first arm that has them. */
function groupByExperiment(arms: ArmModel[]): ExperimentModel[] {
  const groups = new Map<string, ExperimentModel>();
  for (const arm of arms) {
    const { experiment: id, title, question, setup, fault } = arm.result;
    const group = groups.get(id) ?? { id, title: '', arms: [] };
    group.title ||= title ?? '';
    if (question && !group.question) group.question = question;
    if (setup && !group.setup) group.setup = setup;
    if (fault && !group.fault) group.fault = fault;
    group.arms.push(arm);
    groups.set(id, group);
  }
  return [...groups.values()];
}

/**
 * By experiment (E-2 before E-10), then in the order the arms were recorded (`recordedAt`; the result
 * files are read in name order, which would put a suite's ✅ arm before its ❌ arm), else as given.
 */
export function sortResults(results: ArmResult[]): ArmResult[] {
  return results
    .map((result, index) => ({ result, index }))
    .sort((a, b) =>
      a.result.experiment.localeCompare(b.result.experiment, 'en', { numeric: true }) ||
      (a.result.recordedAt && b.result.recordedAt ? a.result.recordedAt.localeCompare(b.result.recordedAt) : 0) ||
      a.index - b.index)
    .map(({ result }) => result);
}

/** `arm-e-002-direct`, suffixed `-2`, `-3` … when two arms would get the same anchor. */
class Anchors {
  private readonly used = new Set<string>();
  of(result: ArmResult): string {
    const base = 'arm-' + `${result.experiment}-${result.arm}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    let id = base;
    for (let n = 2; this.used.has(id); n++) id = `${base}-${n}`;
    this.used.add(id);
    return id;
  }
}
