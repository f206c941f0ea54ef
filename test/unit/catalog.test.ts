import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalog, plannedExperiments, suiteEntry, suitePaths, unlisted } from '../../lab/catalog.ts';
import { repoRoot } from '../../lab/infra/paths.ts';

const read = (file: string) => fs.readFileSync(path.join(repoRoot, file), 'utf8');

/** The `question: '…'` an `experiment({ … })` declaration states, when the suite is on the kit. */
function declaredQuestion(source: string): string | undefined {
  const declaration = source.slice(source.indexOf('experiment({'));
  const quoted = declaration.match(/\bquestion:\s*'((?:[^'\\]|\\.)*)'/)?.[1];
  return quoted?.replace(/\\(.)/g, '$1');
}

describe('the experiment catalog', () => {
  const entries = catalog();
  const suites = entries.filter((e) => e.status === 'exists');

  it('has every suite that exists, with the id, title and question of its header', () => {
    expect(suites.map((s) => s.path)).toEqual(suitePaths());
    expect(suites.length).toBeGreaterThanOrEqual(6);
    for (const suite of suites) {
      expect(suite.path).toMatch(new RegExp(`^lab/${suite.id.toLowerCase()}-`));
      expect(suite.title.length, suite.id).toBeGreaterThan(5);
      expect(suite.question?.length, `${suite.id}'s header has a Question`).toBeGreaterThan(20);
    }
    expect(entries.find((e) => e.id === 'E-004')).toMatchObject({ title: 'Committing offsets before processing is at-most-once', path: 'lab/e-004-offset-commit.test.ts' });
  });

  it('adds the planned experiments of docs/PLANS.md that have no suite yet, once each, in id order', () => {
    const ids = entries.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })));
    const planned = entries.filter((e) => e.status === 'planned');
    expect(planned.every((e) => e.path === undefined)).toBe(true);
    // Exactly the experiment map's rows still marked ⬜ (not a fixed id: planned ones get built).
    const plans = fs.readFileSync(path.join(repoRoot, 'docs', 'PLANS.md'), 'utf8');
    const notStarted = [...plans.matchAll(/^\| (E-\d{3}) \|.*\| ⬜ \|$/gm)].map((m) => m[1]);
    expect(planned.map((e) => e.id)).toEqual(notStarted);
  });

  it('README.md and docs/PLANS.md list every suite that exists, by id and path', () => {
    expect(unlisted(read('README.md'), suites).map((s) => s.path)).toEqual([]);
    expect(unlisted(read('docs/PLANS.md'), suites).map((s) => s.path)).toEqual([]);
  });

  it('a suite on the kit declares the question its header states (the report shows the declared one)', () => {
    for (const suite of suites) {
      const declared = declaredQuestion(read(suite.path!));
      if (declared === undefined) continue; // not on the kit (yet): the report shows it without a question
      expect(declared, suite.id).toBe(suite.question);
    }
    expect(['E-001', 'E-002', 'E-003', 'E-004'].map((id) => declaredQuestion(read(suites.find((s) => s.id === id)!.path!)) !== undefined)).toEqual([true, true, true, true]);
  });
});

describe('catalog parts (no files)', () => {
  it('unlisted names a suite a document forgot, and one listed without its id or path', () => {
    const suites = [
      { id: 'E-001', title: 'a', path: 'lab/e-001-a.test.ts', status: 'exists' as const },
      { id: 'E-002', title: 'b', path: 'lab/e-002-b.test.ts', status: 'exists' as const },
      { id: 'E-003', title: 'c', path: 'lab/e-003-c.test.ts', status: 'exists' as const },
    ];
    const doc = ['| id | suite |', '|---|---|', '| E-001 | `lab/e-001-a.test.ts` |', '| E-002 | (no path) |', 'E-003 lab/e-003-c.test.ts outside a table'].join('\n');
    expect(unlisted(doc, suites).map((s) => s.id)).toEqual(['E-002', 'E-003']);
  });

  it('reads a header: id and title from the first line, the Question paragraph as one line', () => {
    const source = `/**\n * E-042 — Things break.\n *\n * Question  Do they break\n *           under load?\n * Setup     A cluster.\n */\nimport x from 'y';\n`;
    expect(suiteEntry('lab/e-042-things.test.ts', source)).toEqual({ id: 'E-042', title: 'Things break', path: 'lab/e-042-things.test.ts', status: 'exists', question: 'Do they break under load?' });
    expect(() => suiteEntry('lab/e-043-x.test.ts', `import x from 'y';\n`)).toThrow(/no header comment/);
  });

  it('reads the planned experiments from the experiment map table only', () => {
    const plans = '## Phase 3\n| B-0333 | E-010 Redis | ⬜ |\n\n## Experiment map\n\n| id | arms | question | status |\n|---|---|---|---|\n| E-006 | ✅/❌ | Schema change × deploy order | ⬜ |\n| E-007 | ✅ | LEO | ⬜ |\n';
    expect(plannedExperiments(plans)).toEqual([{ id: 'E-006', title: 'Schema change × deploy order' }, { id: 'E-007', title: 'LEO' }]);
  });
});
