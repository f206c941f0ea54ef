/**
 * What an experiment suite reports about each arm, for the run report (reports/<run>/report.json and
 * report.html). Suites call `recordArm(...)`; the Vitest reporter (lab/report/reporter.ts) gathers the
 * files at the end of the run.
 *
 *   recordArm({ experiment: 'E-002', title: 'Dual write loses events', arm: '❌ direct', expected: 'lost > 0, = crashes',
 *               observed: 'lost 3 = crashes 3', holds: true, numbers: { lost: 3, crashes: 3 }, history });
 *
 * `holds` means the arm behaved as the catalog says (a ❌ arm "holds" when it reproduced the failure).
 * Results are files, not memory: suites run in a worker process, the reporter in Vitest's main process.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { History } from '../history/history.ts';
import { repoRoot } from '../infra/paths.ts';
import { percentiles } from '../util/statistics.ts';

export interface TimelinePoint {
  /** ms since the arm's history started. */
  t: number;
  throughput?: number;
  latencyP50?: number;
  latencyP99?: number;
  [series: string]: number | undefined;
}

/**
 * One named expectation of an arm as the runner judged it (lab/kit/expectations.ts). `observed` is, for
 * a plain arm, the value of its one case; for generated cases (`over` set) an "always" row's value is
 * the first case that broke it (else the last case's) and a "sometimes" row's is the arm's total.
 */
export interface ExpectationResult {
  name: string;
  kind: 'always' | 'sometimes';
  expected: string;
  observed: number | undefined;
  holds: boolean;
  /** Generated cases: how many were judged, in how many it held, the range of values, the first case that broke it. */
  over?: { cases: number; held: number; min?: number; max?: number; failingCase?: number };
}

/** A table of text cells, shown under the arm's expectations (a cell may hold line breaks). */
export interface ReportTable {
  title: string;
  columns: string[];
  rows: string[][];
}

export interface ArmResult {
  experiment: string;
  title: string;
  /** The experiment's question, setup and fault, as its declaration states them (suites on the kit). */
  question?: string;
  setup?: string;
  fault?: string;
  arm: string;
  expected: string;
  observed: string;
  holds: boolean;
  numbers: Record<string, number | string>;
  /** Throughput/latency over time, and the fault windows to shade. */
  timeline?: TimelinePoint[];
  faults?: Array<{ fault: string; target: string; start: number; end?: number }>;
  /**
   * State an outside observer sampled over time (History.sample): one panel per series, its values drawn
   * as step lines (E-007: LEO per replica, HW and LSO of a partition).
   */
  sampled?: Array<{ series: string; points: Array<{ t: number; values: Record<string, number> }> }>;
  /** Tables a case laid out (CaseContext.table): E-006's matrix of change × mode × deploy order. */
  tables?: ReportTable[];
  /** Path of the arm's JSON-lines history, relative to the run directory. */
  historyFile?: string;
  seed?: number;
  /** The command that re-runs this arm (and a property's failing case): `LAB_SEED=… LAB_PATH=… npx vitest run lab/e-00x -t '…'`. */
  replay?: string;
  /** Each named expectation as judged (lab/kit/expectations.ts); `expected`/`observed` above summarize them. */
  expectations?: ExpectationResult[];
  /** Why the arm failed, when a case threw (a timeout, a broken expectation). */
  error?: string;
  recordedAt?: string;
}

/** The run directory: LAB_RUN_DIR (set by `lab run` and the reporter), else reports/latest. */
export function runDirectory(): string {
  return process.env.LAB_RUN_DIR ?? path.join(repoRoot, 'reports', 'latest');
}

export function resultsDirectory(runDir = runDirectory()): string {
  return path.join(runDir, 'results');
}

/** Buckets a history's ok operations into per-second throughput and latency percentiles. */
export function timelineOf(history: History, bucketMs = 1000): TimelinePoint[] {
  const ops = history.operations().filter((op) => op.type === 'ok' && op.end !== undefined);
  const buckets = new Map<number, number[]>();
  for (const op of ops) {
    const bucket = Math.floor(op.end! / bucketMs) * bucketMs;
    buckets.set(bucket, [...(buckets.get(bucket) ?? []), op.end! - op.start]);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([t, latencies]) => {
      const { 50: latencyP50, 99: latencyP99 } = percentiles(latencies, [50, 99]);
      return { t, throughput: (latencies.length * 1000) / bucketMs, latencyP50, latencyP99 };
    });
}

export function recordArm(result: ArmResult & { history?: History }): void {
  const { history, ...rest } = result;
  const dir = resultsDirectory();
  fs.mkdirSync(dir, { recursive: true });
  const slug = `${rest.experiment}-${rest.arm}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const entry: ArmResult = { ...rest, recordedAt: new Date().toISOString() };
  if (history) {
    const historyFile = path.join('histories', `${slug}.jsonl`);
    history.write(path.join(runDirectory(), historyFile));
    entry.historyFile = historyFile;
    entry.timeline ??= timelineOf(history);
    entry.faults ??= history.faultWindows();
    const sampled = [...history.samples()].map(([series, points]) => ({ series, points }));
    if (sampled.length) entry.sampled ??= sampled;
  }
  fs.writeFileSync(path.join(dir, `${slug}.json`), JSON.stringify(entry, null, 2));
}

export function readResults(runDir = runDirectory()): ArmResult[] {
  return readResultFiles(runDir).map(([, result]) => result);
}

/** The recorded arms with their file names, in file order (the reporter tells new ones from seen ones by name). */
export function readResultFiles(runDir = runDirectory()): Array<[file: string, result: ArmResult]> {
  const dir = resultsDirectory(runDir);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => [file, JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as ArmResult]);
}
