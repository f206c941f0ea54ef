import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../lab/infra/paths.ts';

describe('Node baseline', () => {
  it('npm scripts and npx run on the Node the project installs (node@24 in node_modules/.bin), whatever the system Node', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { devDependencies: Record<string, string>; engines: { node: string } };
    const wanted = Number(/\d+/.exec(manifest.devDependencies.node!)![0]);
    expect(wanted).toBeGreaterThanOrEqual(24);
    expect(Number(process.versions.node.split('.')[0])).toBe(wanted);
    expect(manifest.engines.node).toBe('>=22');
  });
});
