/**
 * package-lock.json must be what `npm install` (run by `npm run setup`) would write, or setup rewrites
 * it on a clean checkout (issue 7: the committed lockfile said engines >=20.12 while package.json said
 * >=20.15, and lacked the other platforms' optional packages npm 11 records). The root entry mirrors
 * package.json; each workspace entry mirrors its package.json; every optional dependency any package
 * declares has an entry of its own (npm records them for all platforms, installed or not).
 * `.ci/run` also fails when setup leaves package-lock.json modified.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../lab/infra/paths.ts';

type Manifest = Record<string, unknown> & { workspaces?: string[] };
interface LockEntry {
  name?: string;
  version?: string;
  link?: boolean;
  resolved?: string;
  optionalDependencies?: Record<string, string>;
  [field: string]: unknown;
}

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(path.join(repoRoot, file), 'utf8')) as T;
const manifest = readJson<Manifest>('package.json');
const lock = readJson<{ name: string; version: string; lockfileVersion: number; packages: Record<string, LockEntry> }>('package-lock.json');

/** The fields npm copies from a package.json into its lockfile entry. */
const mirrored = ['name', 'version', 'dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'engines', 'workspaces', 'bin', 'license'] as const;
/** npm writes `bin` as an object of paths without a leading `./`. */
function normalizeBin(bin: unknown, name: unknown): unknown {
  const entries = typeof bin === 'string' ? { [String(name).replace(/^@[^/]+\//, '')]: bin } : (bin as Record<string, string>);
  return Object.fromEntries(Object.entries(entries).map(([command, file]) => [command, file.replace(/^\.\//, '')]));
}
const pick = (source: Record<string, unknown>) =>
  Object.fromEntries(mirrored.filter((field) => source[field] !== undefined).map((field) => [field, field === 'bin' ? normalizeBin(source.bin, source.name) : source[field]]));

describe('package-lock.json', () => {
  it('is a lockfile v3 of this package', () => {
    expect(lock.lockfileVersion).toBe(3);
    expect({ name: lock.name, version: lock.version }).toEqual({ name: manifest.name, version: manifest.version });
  });

  it('has a root entry equal to package.json (dependencies, devDependencies, engines, workspaces)', () => {
    expect(pick(lock.packages['']!)).toEqual(pick(manifest));
  });

  it('has an entry per workspace equal to its package.json, linked from node_modules', () => {
    for (const workspace of manifest.workspaces ?? []) {
      const own = readJson<Manifest>(path.join(workspace, 'package.json'));
      expect(pick(lock.packages[workspace]!), workspace).toEqual(pick(own));
      expect(lock.packages[`node_modules/${own.name as string}`], workspace).toMatchObject({ resolved: workspace, link: true });
    }
  });

  it('records every optional dependency, for every platform', () => {
    const missing: string[] = [];
    for (const [at, entry] of Object.entries(lock.packages)) {
      for (const name of Object.keys(entry.optionalDependencies ?? {})) {
        // Node's resolution: the package's own node_modules, then each ancestor's, up to the root.
        let dir = at;
        let found = false;
        for (;;) {
          if (lock.packages[`${dir ? `${dir}/` : ''}node_modules/${name}`]) {
            found = true;
            break;
          }
          if (!dir) break;
          const parent = dir.lastIndexOf('/node_modules/');
          dir = parent < 0 ? '' : dir.slice(0, parent);
        }
        if (!found) missing.push(`${at || '(root)'} → ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
