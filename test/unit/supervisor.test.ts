import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive, isStopped, procStartTime, Supervisor } from '../../lab/infra/local/supervisor.ts';
import { nodeExecPath } from '../../lab/infra/runtimes.ts';

const dirs: string[] = [];
function tempSupervisor() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-supervisor-'));
  dirs.push(dir);
  return { dir, supervisor: new Supervisor(path.join(dir, 'pids')) };
}

afterEach(async () => {
  for (const dir of dirs.splice(0)) {
    await new Supervisor(path.join(dir, 'pids')).stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('Supervisor', () => {
  it('tells a SIGSTOPped process (alive, never answering) from a running one', async () => {
    const { dir, supervisor } = tempSupervisor();
    const record = supervisor.start({ name: 'paused', command: 'sleep', args: ['300'], logFile: path.join(dir, 'paused.log') });
    expect(isStopped(record)).toBe(false);
    process.kill(record.pid, 'SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(isAlive(record)).toBe(true);
    expect(isStopped(record)).toBe(true);
    process.kill(record.pid, 'SIGCONT');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(isStopped(record)).toBe(false);
  });

  it('starts a detached process group with a pid file, and stops the whole group', async () => {
    const { dir, supervisor } = tempSupervisor();
    // The shell forks a child: stopping must reach it too (process group), not only the shell.
    const record = supervisor.start({ name: 'sleeper', command: 'bash', args: ['-c', 'sleep 300 & wait'], logFile: path.join(dir, 'sleeper.log') });
    expect(supervisor.running('sleeper')).toBe(true);
    expect(fs.existsSync(path.join(dir, 'pids', 'sleeper.json'))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const children = fs.readFileSync(`/proc/${record.pid}/task/${record.pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
    expect(children.length).toBe(1);
    const child = { pid: children[0]!, startTime: procStartTime(children[0]!)! };
    await supervisor.stop('sleeper', 2000);
    expect(isAlive(record)).toBe(false);
    // The orphaned child got the group's SIGTERM too; it may linger a moment as a zombie, which is dead.
    const deadline = Date.now() + 2000;
    while (isAlive(child) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(isAlive(child)).toBe(false);
    expect(fs.existsSync(path.join(dir, 'pids', 'sleeper.json'))).toBe(false);
  });

  it('never signals a recycled pid: a record whose start time does not match counts as dead', () => {
    const { supervisor, dir } = tempSupervisor();
    const record = supervisor.start({ name: 'short', command: 'sleep', args: ['300'], logFile: path.join(dir, 'short.log') });
    const impostor = { ...record, startTime: String(Number(record.startTime) - 1) };
    expect(isAlive(record)).toBe(true);
    expect(isAlive(impostor)).toBe(false);
  });

  it('keeps the start spec so another process can restart the same command', async () => {
    const { supervisor, dir } = tempSupervisor();
    const first = supervisor.start({ name: 'svc', command: 'sleep', args: ['300'], logFile: path.join(dir, 'svc.log') });
    process.kill(-first.pid, 'SIGKILL');
    while (isAlive(first)) await new Promise((resolve) => setTimeout(resolve, 10));
    const again = new Supervisor(path.join(dir, 'pids'));
    const record = again.read('svc')!;
    expect(record.spec.args).toEqual(['300']);
    const second = again.start(record.spec);
    expect(second.pid).not.toBe(first.pid);
    expect(again.running('svc')).toBe(true);
  });
});

describe('Supervisor.run', () => {
  it('keeps the process alive until the step exits, and forgets its pid file then', () => {
    const { dir } = tempSupervisor();
    // In a process of its own: the bug was Node exiting (code 0) while only the step was pending.
    const script = `
      import { Supervisor } from ${JSON.stringify(path.resolve('lab/infra/local/supervisor.ts'))};
      const supervisor = new Supervisor(${JSON.stringify(path.join(dir, 'pids'))});
      const exit = await supervisor.run({ name: 'step', command: 'bash', args: ['-c', 'sleep 0.5; exit 3'], logFile: ${JSON.stringify(path.join(dir, 'step.log'))} });
      console.log(JSON.stringify({ exit, pidFiles: supervisor.list().length }));
      process.exitCode = 7;`;
    const result = spawnSync(nodeExecPath(), ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(7);
    expect(JSON.parse(result.stdout)).toEqual({ exit: { code: 3, signal: null }, pidFiles: 0 });
  }, 30_000); // a Node process with tsx's loader: seconds on a loaded 2-core machine (timed out at 5 s under load 22)
});
