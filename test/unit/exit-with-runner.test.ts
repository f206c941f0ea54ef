import { spawn } from 'node:child_process';
import { nodeExecPath } from '../../lab/infra/runtimes.ts';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exitWithRunner } from '../../lab/infra/exit-with-runner.ts';
import { repoRoot } from '../../lab/infra/paths.ts';

const strays: number[] = [];
afterEach(() => {
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/** Running, not a zombie (an orphan's zombie waits for PID 1 to reap it). */
function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!condition() && Date.now() - started < timeoutMs) await new Promise((resolve) => setTimeout(resolve, 50));
  return Date.now() - started;
}

/**
 * A "runner" process starts a "worker" (with or without the watch) that would otherwise live a minute;
 * the worker says `ready <pid>` once its watch is installed, then the test SIGKILLs the runner the way a
 * killed Vitest dies.
 */
async function runnerWithWorker(watch: boolean): Promise<{ runner: number; worker: number }> {
  const module = path.join(repoRoot, 'lab', 'infra', 'exit-with-runner.ts');
  const install = watch ? `const { exitWithRunner } = await import(${JSON.stringify(module)}); exitWithRunner({ intervalMs: 100 });` : '';
  const workerCode = `${install} console.log('ready ' + process.pid); setTimeout(() => {}, 60000);`;
  const runnerCode = `
    const { spawn } = require('node:child_process');
    spawn(${JSON.stringify(nodeExecPath())}, ['--import', 'tsx/esm', '--input-type=module', '-e', ${JSON.stringify(workerCode)}], { stdio: ['ignore', 'inherit', 'inherit'] });
    setTimeout(() => {}, 60000);`;
  const runner = spawn(nodeExecPath(), ['-e', runnerCode], { stdio: ['ignore', 'pipe', 'inherit'], cwd: repoRoot });
  strays.push(runner.pid!);
  const worker = await new Promise<number>((resolve, reject) => {
    let out = '';
    runner.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const ready = /ready (\d+)/.exec(out);
      if (ready) resolve(Number(ready[1]));
    });
    runner.once('exit', () => reject(new Error(`runner exited before its worker was ready: ${out}`)));
  });
  strays.push(worker);
  return { runner: runner.pid!, worker };
}

describe('exitWithRunner', () => {
  it('a worker exits within a second of its runner being SIGKILLed', async () => {
    const { runner, worker } = await runnerWithWorker(true);
    expect(isAlive(worker)).toBe(true);
    process.kill(runner, 'SIGKILL');
    const took = await until(() => !isAlive(worker), 5_000);
    expect(isAlive(worker), `worker still alive ${took} ms after its runner died`).toBe(false);
    expect(took).toBeLessThan(2_000);
  }, 30_000);

  it('without the watch an orphaned worker lives on (what the watch is for)', async () => {
    const { runner, worker } = await runnerWithWorker(false);
    process.kill(runner, 'SIGKILL');
    await until(() => !isAlive(worker), 2_000);
    expect(isAlive(worker)).toBe(true);
  }, 30_000);

  it('does nothing while the runner lives, and stop() ends the watch', async () => {
    let orphaned = 0;
    const watch = exitWithRunner({ intervalMs: 20, onOrphaned: () => (orphaned += 1) });
    await new Promise((resolve) => setTimeout(resolve, 200));
    watch.stop();
    expect(orphaned).toBe(0);
  });
});
