#!/usr/bin/env node
// `npx lab …` entry point. npm links a workspace's bin into node_modules/.bin, which is how a checkout
// gets its own `lab` command without a global install. The real CLI is TypeScript (lab/cli.ts); run it
// through tsx so no build step sits between editing the harness and using it.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(root, 'package.json'));
const tsxCli = require.resolve('tsx/cli');
// Ctrl-C reaches the whole foreground process group, the child included: let the child run its own
// cleanup (stop a half-started cluster, finish the run report) and exit with its code, instead of
// returning the prompt while it is still working.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
const result = spawnSync(process.execPath, [tsxCli, path.join(root, 'lab', 'cli.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
});
process.exit(result.status ?? (result.signal ? 128 : 1));
