import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chosenRuntime, nodeExecPath, runtimeBinary, serviceCommand } from '../../lab/infra/runtimes.ts';
import { repoRoot } from '../../lab/infra/paths.ts';

const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { devDependencies: Record<string, string>; engines: { node: string } };
const installed = (name: string) => /\d+\.\d+\.\d+/.exec(manifest.devDependencies[name]!)![0];
const versions = process.versions as NodeJS.ProcessVersions & { bun?: string; deno?: string };

describe('runtimes', () => {
  it('the tests run on a runtime the project installs: Node 24 under npm scripts and npx (node@24 in node_modules/.bin), or its Bun or Deno', () => {
    expect(manifest.engines.node).toBe('>=22');
    expect(Number(installed('node').split('.')[0])).toBeGreaterThanOrEqual(24);
    if (versions.bun) expect(versions.bun).toBe(installed('bun'));
    else if (versions.deno) expect(versions.deno).toBe(installed('deno'));
    else expect(process.versions.node).toBe(installed('node'));
  });

  it('LAB_RUNTIME picks the service processes\' runtime, and a wrong value is an error naming the choices', () => {
    expect(chosenRuntime(undefined)).toBe('node');
    expect(chosenRuntime('deno')).toBe('deno');
    expect(() => chosenRuntime('nodejs')).toThrow('LAB_RUNTIME=nodejs is not one of node, bun, deno');
    const node = { execPath: '/usr/bin/node', args: ['--import', 'tsx/esm'] };
    expect(serviceCommand('node', 'bin.ts', 'relay', node)).toEqual({ command: '/usr/bin/node', args: ['--import', 'tsx/esm', 'bin.ts', 'relay'] });
    expect(serviceCommand('bun', 'bin.ts', 'relay', node)).toEqual({ command: runtimeBinary('bun'), args: ['bin.ts', 'relay'] });
    expect(serviceCommand('deno', 'bin.ts', 'relay', node).args).toEqual(['run', '--allow-all', '--quiet', 'bin.ts', 'relay']);
  });

  it('Node-only steps get a Node binary on every runtime', () => {
    expect(path.basename(nodeExecPath())).toMatch(/^node/);
  });
});
