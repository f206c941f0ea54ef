/**
 * The catalog of experiments, in one place: every suite that exists (lab/e-*.test.ts, read from its
 * header) and every experiment still planned (the experiment map of docs/PLANS.md).
 *
 *   catalog()
 *   // [{ id: 'E-000', title: 'Smoke: is every component …', path: 'lab/e-000-smoke.test.ts', status: 'exists', question: 'Before any …' },
 *   //  …,
 *   //  { id: 'E-006', title: 'Schema change × deploy order', status: 'planned' }, …]
 *
 * The suites are the truth for what exists (a file is an experiment whatever the documents say); the
 * plan only adds what is not written yet. test/unit/catalog.test.ts fails when README.md or
 * docs/PLANS.md does not list a suite that exists (`unlisted`), so the documents cannot fall behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './infra/paths.ts';

export interface CatalogEntry {
  /** `E-004` */
  id: string;
  title: string;
  /** The suite, relative to the repository (`lab/e-004-offset-commit.test.ts`); planned experiments have none. */
  path?: string;
  status: 'exists' | 'planned';
  /** The question, as the suite's header states it. */
  question?: string;
}

/** `e-004-offset-commit.test.ts`: what the users' `npx vitest lab/e-004` selects. */
const SUITE_FILE = /^e-\d{3}-[a-z0-9-]+\.test\.ts$/;

/** The suites that exist: lab/e-*.test.ts, relative to `root`, in id order. */
export function suitePaths(root = repoRoot): string[] {
  return fs.readdirSync(path.join(root, 'lab')).filter((file) => SUITE_FILE.test(file)).sort().map((file) => `lab/${file}`);
}

/**
 * A suite's entry from its header: the first line of its opening comment (`E-004 — title.`) and its
 * `Question` paragraph (up to the next `Setup`/`Fault`/`Expected`/`Numbers` heading).
 */
export function suiteEntry(suitePath: string, source: string): CatalogEntry {
  const header = source.match(/^\s*\/\*\*([\s\S]*?)\*\//)?.[1];
  if (!header) throw new Error(`${suitePath}: no header comment (every suite opens with its question, setup, fault, expected outcome, numbers)`);
  const lines = header.split('\n').map((line) => line.replace(/^\s*\* ?/, ''));
  const first = lines.find((line) => line.trim())!.trim();
  const heading = first.match(/^(E-\d{3})\s+[—-]\s+(.+?)\.?$/);
  if (!heading) throw new Error(`${suitePath}: the header's first line is not "E-0xx — title": ${first}`);
  const entry: CatalogEntry = { id: heading[1]!, title: heading[2]!, path: suitePath, status: 'exists' };
  const question = paragraph(lines, 'Question');
  if (question) entry.question = question;
  return entry;
}

/** A header paragraph (`Question  …` and its indented continuation lines), as one line. */
function paragraph(lines: string[], name: string): string | undefined {
  const start = lines.findIndex((line) => line.startsWith(`${name} `));
  if (start < 0) return undefined;
  const text = [lines[start]!.slice(name.length)];
  for (const line of lines.slice(start + 1)) {
    if (!/^\s/.test(line) || !line.trim()) break; // the next heading, or the end of the block
    text.push(line);
  }
  return text.map((t) => t.trim()).join(' ');
}

/** The rows of the "Experiment map" table of docs/PLANS.md: `| E-006 | ✅/❌ | Schema change × deploy order | ⬜ |`. */
export function plannedExperiments(plans: string): Array<{ id: string; title: string }> {
  const section = plans.split(/^## /m).find((s) => s.startsWith('Experiment map')) ?? '';
  return [...section.matchAll(/^\|\s*(E-\d{3})\s*\|[^|]*\|\s*([^|]+?)\s*\|/gm)].map((m) => ({ id: m[1]!, title: m[2]! }));
}

/** Every experiment: the suites that exist, then the planned ones without a suite, in id order. */
export function catalog(root = repoRoot): CatalogEntry[] {
  const existing = suitePaths(root).map((suite) => suiteEntry(suite, fs.readFileSync(path.join(root, suite), 'utf8')));
  const ids = new Set(existing.map((e) => e.id));
  const planned = plannedExperiments(fs.readFileSync(path.join(root, 'docs', 'PLANS.md'), 'utf8'))
    .filter((p) => !ids.has(p.id))
    .map((p): CatalogEntry => ({ ...p, status: 'planned' }));
  return [...existing, ...planned].sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}

/** The suites a Markdown document does not list: no table row of it names both the suite's id and its path. */
export function unlisted(markdown: string, suites: CatalogEntry[]): CatalogEntry[] {
  const rows = markdown.split('\n').filter((line) => line.trimStart().startsWith('|'));
  return suites.filter((suite) => suite.path && !rows.some((row) => new RegExp(`\\b${suite.id}\\b`).test(row) && row.includes(suite.path!)));
}
