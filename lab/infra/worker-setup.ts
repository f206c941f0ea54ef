/**
 * Setup file of the lab project (vitest.config.ts): runs in the test worker before every test file.
 * The worker exits if its runner dies (lab/infra/exit-with-runner.ts); installed once per process.
 */
import { exitWithRunner, type RunnerWatch } from './exit-with-runner.ts';

const installed = Symbol.for('reliability-lab.exit-with-runner');
const registry = globalThis as { [installed]?: RunnerWatch };
registry[installed] ??= exitWithRunner();
