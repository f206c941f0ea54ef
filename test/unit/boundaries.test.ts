/**
 * The import boundaries (docs/ARCHITECTURE.md): lab/ and bench/ use src/ only through src/contract.ts,
 * bench/ does not import a provider's internals, src/ never imports lab/. The repository is checked as
 * it is; each rule is shown to fail on an in-memory file that breaks it, in each import form.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { boundaryViolations, contractExceptions, importsOf, repoSources } from '../../tools/boundaries.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const file = (p: string, text: string) => ({ path: p, text });

describe('import boundaries', () => {
  it('hold in the repository', () => {
    const sources = repoSources(root);
    expect(sources.length).toBeGreaterThan(100); // the walk really found the sources
    expect(boundaryViolations(sources)).toEqual([]);
  });

  it('every allow-listed exception still exists and still needs its exception', () => {
    // An exception for a file that is gone, or that no longer imports src/ directly, is stale: remove it.
    const sources = repoSources(root);
    const stale = [...contractExceptions.keys()].filter((exception) => {
      const source = sources.find((s) => s.path === exception);
      return !source || boundaryViolations([source], new Map()).length === 0;
    });
    expect(stale).toEqual([]);
  });

  it('finds imports in every form, and none in comments or strings', () => {
    const text = [
      "import { a } from '../src/kafka/topics.ts';",
      "import type { B } from '../src/config.ts';",
      "export { c } from '../src/envelope/index.ts';",
      "export * from '../src/kafka/headers.ts';",
      "const d = await import('../src/services/main.ts');",
      "import './side-effect.ts';",
      "import mysql from 'mysql2/promise';",
      "// import { e } from '../src/comment.ts';",
      "const f = `import { g } from '../src/in-a-string.ts'`;",
    ].join('\n');
    expect(importsOf(file('lab/x.ts', text)).map((i) => i.target)).toEqual([
      'src/kafka/topics.ts',
      'src/config.ts',
      'src/envelope/index.ts',
      'src/kafka/headers.ts',
      'src/services/main.ts',
      'lab/side-effect.ts',
    ]);
  });

  describe('rule 1: lab/ and bench/ use src/ only through src/contract.ts', () => {
    it.each([
      ['lab/observe/x.ts', "import { ensureTopics } from '../../src/kafka/topics.ts';"],
      ['lab/e-099-x.test.ts', "import type { FailpointName } from '../src/failpoints/names.ts';"],
      ['lab/e-099-x.test.ts', "export { eventHeaders } from '../src/kafka/headers.ts';"],
      ['lab/cli.ts', "const { runService } = await import('../src/services/main.ts');"],
      ['bench/x.ts', "import { outboxRow } from '../src/services/command/outbox.ts';"],
    ])('%s: %s is refused', (p, text) => {
      expect(boundaryViolations([file(p, text)])).toMatchObject([{ file: p, rule: expect.stringContaining('src/contract.ts') }]);
    });

    it('the contract itself is allowed, in every form', () => {
      const text = "import { topicNames } from '../../src/contract.ts';\nimport type { ServiceName } from '../../src/contract.ts';\nawait import('../../src/contract.ts');";
      expect(boundaryViolations([file('lab/infra/x.ts', text)])).toEqual([]);
    });

    it('an allow-listed file may import src/ directly, and only that file', () => {
      const text = "import { frame } from '../src/envelope/index.ts';";
      const exceptions = new Map([['lab/e-005-dlq-replay.test.ts', 'a reason']]);
      expect(boundaryViolations([file('lab/e-005-dlq-replay.test.ts', text)], exceptions)).toEqual([]);
      expect(boundaryViolations([file('lab/e-006-x.test.ts', text)], exceptions)).toHaveLength(1);
    });
  });

  describe("rule 2: bench/ does not import a provider's internals", () => {
    it.each([
      ["import { javaBinary } from '../lab/infra/local/java.ts';"],
      ["import { startLocalCluster } from '../lab/infra/local/cluster.ts';"],
      ["import { containersProvider } from '../lab/infra/providers/containers.ts';"],
      ["import type { Provider } from '../lab/infra/providers/types.ts';"],
    ])('%s is refused', (text) => {
      expect(boundaryViolations([file('bench/x.ts', text)])).toMatchObject([{ rule: expect.stringContaining("provider's internals") }]);
    });

    it("the providers' index and provider-neutral modules are allowed; lab/ itself may use a provider", () => {
      const text = "import { acquireEnvironment } from '../lab/infra/providers/index.ts';\nimport { kafka } from '../lab/infra/clients.ts';";
      expect(boundaryViolations([file('bench/x.ts', text)])).toEqual([]);
      expect(boundaryViolations([file('lab/infra/x.ts', "import { javaBinary } from './local/java.ts';")])).toEqual([]);
    });
  });

  describe('rule 3: src/ never imports lab/', () => {
    it.each([
      ['src/services/x.ts', "import { waitFor } from '../../lab/infra/ports.ts';"],
      ['src/x.ts', "import type { LabEnvironment } from '../lab/infra/environment.ts';"],
      ['src/kafka/x.ts', "export * from '../../lab/util/statistics.ts';"],
      ['src/x.ts', "const m = await import('../lab/kit/index.ts');"],
    ])('%s: %s is refused', (p, text) => {
      expect(boundaryViolations([file(p, text)])).toMatchObject([{ file: p, rule: 'src/ never imports lab/' }]);
    });
  });
});
