/**
 * Vitest reporter that turns a lab run into reports/<run>/report.json and report.html (render.ts).
 * Registered next to the default reporter in vitest.config.ts, so `npx vitest lab/e-003` prints the
 * usual progress and also refreshes reports/latest; `npx lab run` points it at its own run directory
 * through LAB_RUN_DIR.
 *
 * The reporter lives in Vitest's main process, the suites in a forked worker: they talk only through
 * files. Suites write one JSON file per arm with `recordArm()` (results.ts) into <runDir>/results while
 * the run is going, so stale files are cleared when the run starts (never at the end), and the report
 * is rendered from whatever is there when the run ends. LAB_RUN_DIR is set in this process at init when
 * unset: Vitest builds the worker's environment from process.env when it starts the tests, so the
 * worker writes where this reporter reads.
 *
 * Runs that contain no lab test file (e.g. `vitest run --project unit`) leave the reports alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import type { SerializedError } from 'vitest';
import type { Reporter, TestCase, TestModule, TestRunEndReason, TestSpecification, Vitest } from 'vitest/node';
import { repoRoot } from '../infra/paths.ts';
import type { ReportMeta, TestOutcome } from './model.ts';
import { writeReport } from './render.ts';
import { readResultFiles, readResults, resultsDirectory, runDirectory } from './results.ts';

const LAB_PROJECT = 'lab';
const latestDir = path.join(repoRoot, 'reports', 'latest');

export default class LabReportReporter implements Reporter {
  private vitest: Vitest | undefined;
  private labRun = false;
  private startedAt = new Date();
  private seenResults = new Set<string>();
  /** Test outcomes as they finish, for a report of an interrupted run (which never reaches onTestRunEnd). */
  private finishedTests: TestOutcome[] = [];
  private labFiles: string[] = [];
  private readonly onExit = () => this.writeInterrupted();

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
    process.env.LAB_RUN_DIR ??= latestDir;
  }

  onTestRunStart(specifications: ReadonlyArray<TestSpecification>): void {
    this.startedAt = new Date();
    this.labFiles = [...new Set(specifications.filter((spec) => spec.project.name === LAB_PROJECT).map((spec) => path.relative(repoRoot, spec.moduleId)))];
    this.labRun = this.labFiles.length > 0;
    this.seenResults.clear();
    this.finishedTests = [];
    process.off('exit', this.onExit);
    if (!this.labRun) return;
    // Ctrl-C: Vitest calls process.exit() without ending the run; write what finished (sync, on exit).
    // Prepended: Vitest's own exit listener calls process.exit() again, which ends the process before
    // any listener registered after it runs.
    process.prependOnceListener('exit', this.onExit);
    try {
      prepareRunDirectory(runDirectory());
    } catch (error) {
      this.log(`[report] could not clear ${display(runDirectory())}: ${message(error)}`);
    }
  }

  onTestCaseResult(testCase: TestCase): void {
    if (testCase.project.name === LAB_PROJECT) this.finishedTests.push(outcomeOf(testCase, path.relative(repoRoot, testCase.module.moduleId)));
  }

  /** Progress: what each finished suite recorded. */
  onTestModuleEnd(testModule: TestModule): void {
    if (testModule.project.name !== LAB_PROJECT) return;
    try {
      const fresh = readResultFiles().filter(([file]) => !this.seenResults.has(file));
      for (const [file] of fresh) this.seenResults.add(file);
      if (fresh.length === 0) return;
      const notHolding = fresh.filter(([, result]) => !result.holds).map(([, result]) => `${result.experiment} ${result.arm}`);
      this.log(`[report] ${path.relative(repoRoot, testModule.moduleId)}: ${fresh.length} arm${fresh.length === 1 ? '' : 's'} recorded` +
        (notHolding.length ? `, NOT as expected: ${notHolding.join(', ')}` : ', all as expected'));
    } catch {
      // Progress is a courtesy; the report at the end reads the files again.
    }
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, reason: TestRunEndReason): void {
    process.off('exit', this.onExit);
    const labModules = testModules.filter((m) => m.project.name === LAB_PROJECT);
    if (!this.labRun && labModules.length === 0) return;
    this.write({
      tests: labModules.flatMap(outcomesOf),
      files: labModules.map((m) => path.relative(repoRoot, m.moduleId)),
      reason,
      unhandledErrors: unhandledErrors.map((e) => stripVTControlCharacters([errorText(e), e.stack].filter(Boolean).join('\n'))),
      provider: providerOf(labModules[0]),
    });
  }

  private writeInterrupted(): void {
    this.write({ tests: this.finishedTests, files: this.labFiles, reason: 'interrupted', unhandledErrors: [], provider: undefined });
  }

  private write(run: { tests: TestOutcome[]; files: string[]; reason: string; unhandledErrors: string[]; provider: string | undefined }): void {
    try {
      const runDir = runDirectory();
      const finishedAt = new Date();
      const meta: ReportMeta = {
        runId: path.basename(runDir),
        startedAt: this.startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        vitest: {
          passed: run.tests.filter((t) => t.state === 'passed').length,
          failed: run.tests.filter((t) => t.state === 'failed').length,
          skipped: run.tests.filter((t) => t.state === 'skipped').length,
          durationMs: finishedAt.getTime() - this.startedAt.getTime(),
          files: run.files,
          reason: run.reason,
          unhandledErrors: run.unhandledErrors,
        },
      };
      if (run.provider) meta.provider = run.provider;
      const results = readResults(runDir);
      const { html } = writeReport(runDir, { meta, tests: run.tests, results });
      const notHolding = results.filter((r) => !r.holds).length;
      this.log(`[report] ${display(html)}  (${results.length} arm${results.length === 1 ? '' : 's'}` +
        `${results.length ? `, ${notHolding ? `${notHolding} NOT as expected` : 'all as expected'}` : ''}` +
        `${run.reason === 'interrupted' ? '; run interrupted' : ''})`);
    } catch (error) {
      this.log(`[report] could not write the run report: ${message(error)}`);
    }
  }

  private log(line: string): void {
    if (this.vitest) this.vitest.logger.log(line);
    else console.log(line);
  }
}

/**
 * Empties what a previous run left in `runDir`, so the report shows only this run. reports/latest may be
 * a symlink to a `lab run` directory: replace the link by a fresh directory instead of clearing the
 * archived run it points to.
 */
export function prepareRunDirectory(runDir: string, latest = latestDir): void {
  if (path.resolve(runDir) === path.resolve(latest) && fs.lstatSync(latest, { throwIfNoEntry: false })?.isSymbolicLink()) {
    fs.unlinkSync(latest);
  }
  for (const name of ['results', 'histories']) fs.rmSync(path.join(runDir, name), { recursive: true, force: true });
  for (const name of ['report.json', 'report.html']) fs.rmSync(path.join(runDir, name), { force: true });
  fs.mkdirSync(resultsDirectory(runDir), { recursive: true });
}

function outcomesOf(testModule: TestModule): TestOutcome[] {
  const file = path.relative(repoRoot, testModule.moduleId);
  const outcomes: TestOutcome[] = [];
  // Errors outside any test (import failure, a throwing beforeAll/afterAll) fail the file, not a test.
  const moduleErrors = [
    ...testModule.errors(),
    ...[...testModule.children.allSuites()].flatMap((suite) => suite.errors()),
  ];
  if (moduleErrors.length) outcomes.push({ file, name: '(file: collection or hooks)', state: 'failed', errors: moduleErrors.map(errorText) });
  for (const test of testModule.children.allTests()) outcomes.push(outcomeOf(test, file));
  return outcomes;
}

function outcomeOf(test: TestCase, file: string): TestOutcome {
  const result = test.result();
  const outcome: TestOutcome = { file, name: test.fullName, state: result.state };
  const duration = test.diagnostic()?.duration;
  if (duration !== undefined) outcome.durationMs = Math.round(duration);
  if (result.errors?.length) outcome.errors = result.errors.map(errorText);
  return outcome;
}

function providerOf(testModule: TestModule | undefined): string | undefined {
  try {
    return testModule?.project.getProvidedContext().labEnvironment?.provider;
  } catch {
    return undefined;
  }
}

function errorText(error: { name?: string; message?: string; diff?: string }): string {
  const head = error.name && error.message ? `${error.name}: ${error.message}` : (error.message ?? String(error));
  // Vitest colours diffs for the terminal; the report wants plain text.
  return stripVTControlCharacters(error.diff ? `${head}\n${error.diff}` : head);
}

function display(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') ? file : relative;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
