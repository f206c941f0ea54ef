import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from '../../lab/infra/paths.ts';
import { isAlive, Supervisor } from '../../lab/infra/local/supervisor.ts';

const guard = path.join(repoRoot, 'lab', 'infra', 'local', 'guard.sh');
const dirs: string[] = [];
const strays: number[] = []; // processes the guard must not kill (or did not, when the test failed)
afterEach(async () => {
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const dir of dirs.splice(0)) {
    await new Supervisor(path.join(dir, 'pids')).stopAll([], 0);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

async function until(condition: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!condition() && Date.now() - started < timeoutMs) await new Promise((resolve) => setTimeout(resolve, 50));
  return Date.now() - started;
}

describe('guard.sh', () => {
  it('kills the process groups in the pid files itself as soon as the owner dies, before any `lab down` runs', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-guard-'));
    dirs.push(dir);
    const supervisor = new Supervisor(path.join(dir, 'pids'));
    // The owner stands in for Vitest, the broker for any cluster process (its group has a child too).
    const owner = spawn('sleep', ['300'], { stdio: 'ignore' });
    strays.push(owner.pid!);
    const broker = supervisor.start({ name: 'broker-1', command: 'bash', args: ['-c', 'sleep 300 & wait'], logFile: path.join(dir, 'broker-1.log') });
    // A recycled pid: a live process whose start time is not the recorded one must survive.
    const bystander = supervisor.start({ name: 'bystander', command: 'sleep', args: ['300'], logFile: path.join(dir, 'bystander.log') });
    strays.push(bystander.pid);
    const record = path.join(dir, 'pids', 'bystander.json');
    fs.writeFileSync(record, JSON.stringify({ ...bystander, startTime: String(Number(bystander.startTime) - 1) }, null, 2));
    // `lab down` is replaced by a command that does nothing: the guard alone must have killed the cluster.
    const log = fs.openSync(path.join(dir, 'guard.log'), 'a');
    const guardProcess = spawn('bash', [guard, String(owner.pid), '/bin/true', 'lab.mjs', path.join(dir, 'pids')], { stdio: ['ignore', log, log] });
    await new Promise((resolve) => setTimeout(resolve, 300));

    owner.kill('SIGKILL');
    const tookMs = await until(() => !isAlive(broker), 10_000);
    expect(isAlive(broker)).toBe(false);
    expect(tookMs).toBeLessThan(3_000); // its loop polls the owner every second
    expect(isAlive(bystander)).toBe(true);
    await new Promise<void>((resolve) => (guardProcess.exitCode !== null ? resolve() : guardProcess.once('exit', () => resolve())));
    expect(fs.readFileSync(path.join(dir, 'guard.log'), 'utf8')).toMatch(/killing broker-1 \(process group \d+\)/);
  }, 20_000);
});
