import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareRunDirectory } from '../../lab/report/reporter.ts';
import { newRunId, pointLatestAt, resolveSuites } from '../../lab/report/run.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-run-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('lab run', () => {
  it('resolves e-001 to lab/e-001*.test.ts, case-insensitively, and rejects unknown suites', () => {
    const lab = tempDir();
    for (const file of ['e-000-smoke.test.ts', 'e-001-acks.test.ts', 'e-010-outbox.test.ts', 'e-001-notes.md']) fs.writeFileSync(path.join(lab, file), '');
    const names = (args: string[]) => resolveSuites(args, lab).map((file) => path.basename(file));
    expect(names(['e-001'])).toEqual(['e-001-acks.test.ts']);
    expect(names(['E-010', 'e-000'])).toEqual(['e-010-outbox.test.ts', 'e-000-smoke.test.ts']);
    expect(names(['lab/e-001-acks.test.ts'])).toEqual(['e-001-acks.test.ts']);
    expect(() => resolveSuites(['e-042'], lab)).toThrow(/no suite matches e-042/);
    expect(resolveSuites([], lab)).toEqual([]);
  });

  it('names runs by time, sortably, and never reuses a directory', () => {
    const now = new Date('2025-11-23T22:52:10.123Z');
    expect(newRunId(now, () => false)).toBe('2025-11-23T22-52-10Z');
    const taken = new Set(['2025-11-23T22-52-10Z', '2025-11-23T22-52-10Z-2']);
    expect(newRunId(now, (id) => taken.has(id))).toBe('2025-11-23T22-52-10Z-3');
  });

  it('points reports/latest at the newest run, replacing a directory or an older link, leaving runs intact', () => {
    const reports = tempDir();
    for (const run of ['run-1', 'run-2']) {
      fs.mkdirSync(path.join(reports, run));
      fs.writeFileSync(path.join(reports, run, 'report.json'), run);
    }
    fs.mkdirSync(path.join(reports, 'latest'));
    fs.writeFileSync(path.join(reports, 'latest', 'report.json'), 'from vitest');
    pointLatestAt('run-1', reports);
    expect(fs.readlinkSync(path.join(reports, 'latest'))).toBe('run-1');
    pointLatestAt('run-2', reports);
    expect(fs.readFileSync(path.join(reports, 'latest', 'report.json'), 'utf8')).toBe('run-2');
    expect(fs.readFileSync(path.join(reports, 'run-1', 'report.json'), 'utf8')).toBe('run-1');
    expect(fs.readdirSync(reports).sort()).toEqual(['latest', 'run-1', 'run-2']);
  });
});

describe('reporter run directory', () => {
  it('clears what an earlier run left (results, histories, report) and nothing else', () => {
    const runDir = tempDir();
    for (const file of ['results/e-001-a.json', 'histories/e-001-a.jsonl', 'report.json', 'report.html', 'notes.txt']) {
      fs.mkdirSync(path.dirname(path.join(runDir, file)), { recursive: true });
      fs.writeFileSync(path.join(runDir, file), 'stale');
    }
    prepareRunDirectory(runDir);
    expect(fs.readdirSync(runDir).sort()).toEqual(['notes.txt', 'results']);
    expect(fs.readdirSync(path.join(runDir, 'results'))).toEqual([]);
  });

  it('replaces a latest symlink by a fresh directory instead of clearing the run it points to', () => {
    const reports = tempDir();
    fs.mkdirSync(path.join(reports, 'run-1', 'results'), { recursive: true });
    fs.writeFileSync(path.join(reports, 'run-1', 'results', 'e-001-a.json'), '{}');
    fs.symlinkSync('run-1', path.join(reports, 'latest'));
    prepareRunDirectory(path.join(reports, 'latest'), path.join(reports, 'latest'));
    expect(fs.lstatSync(path.join(reports, 'latest')).isDirectory()).toBe(true);
    expect(fs.readdirSync(path.join(reports, 'latest', 'results'))).toEqual([]);
    expect(fs.readdirSync(path.join(reports, 'run-1', 'results'))).toEqual(['e-001-a.json']);
  });
});
