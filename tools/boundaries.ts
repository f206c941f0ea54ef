/**
 * The import boundaries of docs/ARCHITECTURE.md, checked on source text:
 *
 *   const problems = boundaryViolations(await repoSources());   // [] when every rule holds
 *
 *   1. lab/ and bench/ use src/ only through src/contract.ts (the typed contract of the system under test);
 *   2. bench/ does not reach into a provider: lab/infra/local/* and lab/infra/providers/* other than
 *      lab/infra/providers/index.ts (a bench run works on whatever cluster the provider gives it);
 *   3. src/ never imports lab/ (the system under test knows nothing of its harness).
 *
 * Imports are found by the TypeScript compiler's own pre-processor (`ts.preProcessFile`): static and
 * type-only imports, `export … from`, `import()` with a literal and `require()`, none of the text in
 * comments or strings. test/unit/boundaries.test.ts runs it over the repository.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface SourceFile {
  /** Repository-relative, with forward slashes: `lab/observe/topic.ts`. */
  path: string;
  text: string;
}

export interface Violation {
  file: string;
  /** The import as written. */
  specifier: string;
  /** What it resolves to, repository-relative. */
  target: string;
  rule: string;
}

/** Files allowed to break rule 1 for now, each with the reason. Keep it empty: an entry is debt. */
export const contractExceptions: ReadonlyMap<string, string> = new Map();

const contract = 'src/contract.ts';
const providerInternals = /^lab\/infra\/(local|providers)\//;
const providerIndex = 'lab/infra/providers/index.ts';

/** The repository-relative paths a file imports (relative specifiers only: packages are outside the rules). */
export function importsOf(file: SourceFile): Array<{ specifier: string; target: string }> {
  const { importedFiles } = ts.preProcessFile(file.text, true, true);
  return importedFiles
    .map((f) => f.fileName)
    .filter((specifier) => specifier.startsWith('./') || specifier.startsWith('../'))
    .map((specifier) => ({ specifier, target: path.posix.normalize(path.posix.join(path.posix.dirname(file.path), specifier)) }));
}

export function boundaryViolations(files: SourceFile[], exceptions: ReadonlyMap<string, string> = contractExceptions): Violation[] {
  const violations: Violation[] = [];
  for (const file of files) {
    const inLab = file.path.startsWith('lab/');
    const inBench = file.path.startsWith('bench/');
    const inSrc = file.path.startsWith('src/');
    for (const { specifier, target } of importsOf(file)) {
      const add = (rule: string) => violations.push({ file: file.path, specifier, target, rule });
      if ((inLab || inBench) && target.startsWith('src/') && target !== contract && !exceptions.has(file.path)) add(`${file.path.split('/')[0]}/ uses src/ only through ${contract}`);
      if (inBench && providerInternals.test(target) && target !== providerIndex) add(`bench/ does not import a provider's internals (use ${providerIndex} or a provider-neutral module)`);
      if (inSrc && target.startsWith('lab/')) add('src/ never imports lab/');
    }
  }
  return violations;
}

/** The TypeScript sources of src/, lab/ and bench/ under `root`. */
export function repoSources(root: string): SourceFile[] {
  const files: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const relative = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(relative);
      } else if (/\.(ts|mts|cts|tsx)$/.test(entry.name)) {
        files.push({ path: relative, text: fs.readFileSync(path.join(root, relative), 'utf8') });
      }
    }
  };
  for (const dir of ['src', 'lab', 'bench']) if (fs.existsSync(path.join(root, dir))) walk(dir);
  return files;
}
