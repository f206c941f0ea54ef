#!/usr/bin/env node
// `npx lab …` entry point. npm links a workspace's bin into node_modules/.bin, which is how a checkout
// gets its own `lab` command without a global install. The real CLI is TypeScript (lab/cli.ts); run it
// through tsx so no build step sits between editing the harness and using it.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(root, 'package.json'));
const tsxCli = require.resolve('tsx/cli');
// The owner (whoever started `lab …`) is handed down, so a service can watch it directly: its own
// parent is tsx, which outlives a killed wrapper. An owner start time only travels with the owner pid
// it belongs to (a service compares the two, see src/services/main.ts).
const owner = process.env.LAB_OWNER_PID ? {} : { LAB_OWNER_PID: String(process.ppid), LAB_OWNER_START_TIME: '' };
const child = spawn(process.execPath, [tsxCli, path.join(root, 'lab', 'cli.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, ...owner },
});

// Ctrl-C reaches the whole foreground process group, the child included: let the child run its own
// cleanup (stop a half-started cluster, finish the run report) and exit with its code, instead of
// returning the prompt while it is still working. SIGTERM from a supervisor is passed on.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));

// Started by a test worker (`lab service …`) that then died: stop the child instead of living on as an
// orphan (the child itself only sees this wrapper, which would still be alive).
const parent = process.ppid;
const watch = setInterval(() => {
  if (process.ppid !== parent) child.kill('SIGTERM');
}, 500);
watch.unref();

child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
