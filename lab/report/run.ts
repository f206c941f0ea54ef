/**
 * `npx lab run [e-001 …]`: runs lab suites into a fresh reports/<run-id>/ and points reports/latest at
 * it. Vitest does the running (inherited stdio: its progress is the progress); the lab reporter
 * (reporter.ts) writes report.json and report.html into the directory named by LAB_RUN_DIR.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { repoRoot } from '../infra/paths.ts';
import { writeReport } from './render.ts';

const reportsDir = path.join(repoRoot, 'reports');
const labDir = path.join(repoRoot, 'lab');

/** `e-001` / `E-001` / `e-001-dual` → lab/e-001*.test.ts; an existing path is taken as is. */
export function resolveSuites(args: string[], dir = labDir): string[] {
  const suites = fs.readdirSync(dir).filter((file) => file.endsWith('.test.ts')).sort();
  return args.flatMap((arg) => {
    if (fs.existsSync(path.resolve(arg)) && fs.statSync(path.resolve(arg)).isFile()) return [path.relative(repoRoot, path.resolve(arg))];
    const prefix = path.basename(arg).toLowerCase().replace(/\.test\.ts$/, '');
    const matches = suites.filter((file) => file.toLowerCase().startsWith(prefix));
    if (matches.length === 0) throw new Error(`no suite matches ${arg} (lab/${prefix}*.test.ts); suites: ${suites.join(', ') || 'none'}`);
    return matches.map((file) => path.relative(repoRoot, path.join(dir, file)));
  });
}

/** A sortable, filesystem-safe id: 2025-11-23T22-52-10Z, suffixed when two runs start in one second. */
export function newRunId(now = new Date(), exists = (id: string) => fs.existsSync(path.join(reportsDir, id))): string {
  const base = now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  let id = base;
  for (let n = 2; exists(id); n++) id = `${base}-${n}`;
  return id;
}

export async function runSuites(args: string[]): Promise<number> {
  let suites: string[];
  try {
    suites = resolveSuites(args);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }
  const started = new Date();
  const runId = newRunId(started);
  const runDir = path.join(reportsDir, runId);
  fs.mkdirSync(runDir, { recursive: true });
  console.log(`[lab run] ${runId}: ${suites.length ? suites.join(' ') : 'all lab suites'} → ${path.relative(process.cwd(), runDir) || '.'}`);

  const vitest = path.join(path.dirname(createRequire(path.join(repoRoot, 'package.json')).resolve('vitest/package.json')), 'vitest.mjs');
  const child = spawn(process.execPath, [vitest, 'run', '--project', 'lab', ...suites], {
    cwd: repoRoot,
    stdio: 'inherit',
    env: { ...process.env, LAB_RUN_DIR: runDir },
  });
  // Ctrl-C reaches Vitest too (same process group): let it stop the suites and write what it has,
  // and wait for it instead of dying first.
  const ignore = () => undefined;
  process.on('SIGINT', ignore);
  process.on('SIGTERM', ignore);
  const code = await new Promise<number>((resolve) => {
    child.on('error', (error) => {
      console.error(`[lab run] could not start vitest: ${error.message}`);
      resolve(1);
    });
    child.on('exit', (status, signal) => resolve(status ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : 15) : 1)));
  });
  // Keep ignoring: tsx relays the signal to this process a second time, and the report and the latest
  // link are written below; the CLI exits right after.

  const json = path.join(runDir, 'report.json');
  if (!fs.existsSync(json)) {
    // Vitest ended without its reporter writing (killed, or failed before running a suite): still
    // report the arms that were recorded, and say why the rest is missing.
    console.error(`[lab run] vitest exited with ${code} without a report; writing one from the recorded results`);
    writeReport(runDir, {
      meta: {
        runId,
        startedAt: started.toISOString(),
        finishedAt: new Date().toISOString(),
        vitest: { passed: 0, failed: 0, durationMs: Date.now() - started.getTime(), files: suites, reason: `vitest exited with ${code} before reporting` },
      },
    });
  }
  pointLatestAt(runId);
  console.log(`[lab run] report  ${path.relative(process.cwd(), path.join(runDir, 'report.html'))}`);
  console.log(`[lab run] data    ${path.relative(process.cwd(), json)}`);
  console.log(`[lab run] latest  ${path.relative(process.cwd(), path.join(reportsDir, 'latest'))} → ${runId}`);
  return code;
}

/** reports/latest → reports/<runId>: a relative symlink, or a copy where symlinks are not allowed. */
export function pointLatestAt(runId: string, dir = reportsDir): void {
  const latest = path.join(dir, 'latest');
  const tmp = path.join(dir, `.latest-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    fs.symlinkSync(runId, tmp, 'dir');
    fs.rmSync(latest, { recursive: true, force: true });
    fs.renameSync(tmp, latest);
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(latest, { recursive: true, force: true });
    fs.cpSync(path.join(dir, runId), latest, { recursive: true });
  }
}
