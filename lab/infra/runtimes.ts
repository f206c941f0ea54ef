/**
 * The JavaScript runtime the service processes run on: `LAB_RUNTIME=node` (default), `bun` or `deno`.
 *
 *   serviceCommand('bun', entry, 'relay')   // { command: '<repo>/node_modules/.bin/bun', args: [entry, 'relay'] }
 *
 * All three come from npm (dev dependencies `node`, `bun`, `deno`: the packages carry the binaries), so
 * nothing else is installed. The services use only what the three share (node: built-ins, npm packages,
 * ESM with `.ts` specifiers): Node runs them through tsx's loader, Bun and Deno run TypeScript themselves.
 * Deno resolves bare imports from package.json/node_modules (its default when a package.json is present)
 * and needs its permissions granted: the services open sockets, read files and the environment.
 */
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './paths.ts';

export const runtimes = ['node', 'bun', 'deno'] as const;
export type Runtime = (typeof runtimes)[number];

export function chosenRuntime(value = process.env.LAB_RUNTIME): Runtime {
  if (value === undefined || value === '') return 'node';
  if ((runtimes as readonly string[]).includes(value)) return value as Runtime;
  throw new Error(`LAB_RUNTIME=${value} is not one of ${runtimes.join(', ')}`);
}

/** The runtime's binary from node_modules/.bin; a clear error naming the install when it is missing. */
export function runtimeBinary(runtime: Exclude<Runtime, 'node'>): string {
  const binary = path.join(repoRoot, 'node_modules', '.bin', runtime);
  if (!fs.existsSync(binary)) throw new Error(`LAB_RUNTIME=${runtime}: ${binary} is missing: run \`npm run setup\` (it installs the ${runtime} npm package)`);
  return binary;
}

export function serviceCommand(runtime: Runtime, entry: string, service: string, node: { execPath: string; args: string[] }): { command: string; args: string[] } {
  switch (runtime) {
    case 'node':
      return { command: node.execPath, args: [...node.args, entry, service] };
    case 'bun':
      return { command: runtimeBinary('bun'), args: [entry, service] };
    case 'deno':
      // --allow-all: a service needs net, env, read, write (failpoint logs) and sys (os.hostname in kafkajs).
      return { command: runtimeBinary('deno'), args: ['run', '--allow-all', '--quiet', entry, service] };
  }
}

/**
 * A Node binary for what must run on Node itself (tsx's loader, `node -e` scripts in tests): this
 * process's own when it is Node, else the `node` package's. Under Bun and Deno `process.execPath` is
 * their binary, which does not take Node's flags (`--import`, `--input-type`).
 */
export function nodeExecPath(): string {
  const versions = process.versions as NodeJS.ProcessVersions & { bun?: string; deno?: string };
  return versions.bun || versions.deno ? path.join(repoRoot, 'node_modules', '.bin', 'node') : process.execPath;
}
