/**
 * A service as its own OS process (`startServiceProcess`), the way experiments run the ones they kill.
 *
 * Question  Is a service one Node process (no wrapper processes between the test worker and the
 *           service: issue 8 measured ~90 MB of wrappers per service), and does it keep the lifecycle
 *           the harness relies on: the ready line, a graceful stop on SIGTERM, exit when its owner (the
 *           test worker) dies — also when the owner's pid has been handed to another process — and a
 *           non-zero exit code when it cannot run?
 * Setup     The notification gateway (it needs no infrastructure) started through `startServiceProcess`;
 *           for the owner's death, a stand-in test worker (a Node process with tsx) starts the service
 *           and is then SIGKILLed, as a crashed or OOM-killed Vitest worker would be.
 * Fault     SIGKILL of the owner; an owner start time that does not match (a recycled pid); an unknown
 *           service name.
 * Expected  One process whose parent is the starter and whose pid is in the pid file and the ready line;
 *           SIGTERM → exit code 0; owner killed → the service exits within seconds (its watch polls
 *           every 500 ms); recycled owner pid → exits the same way; unknown service → exit code 1 during
 *           start, the reason in the error.
 * Numbers   `[service-process] …` lines: time from the owner's death to the service's exit.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive, procStartTime, Supervisor } from '../infra/local/supervisor.ts';
import { repoRoot, runPaths } from '../infra/paths.ts';
import { waitFor } from '../infra/ports.ts';
import { startServiceProcess, type ServiceProcess } from '../infra/services.ts';

const report = (line: string) => console.log(`[service-process] ${line}`);
const supervisor = new Supervisor(runPaths.pids);
const started: ServiceProcess[] = [];
const strays: Array<{ name: string; pid: number }> = [];

afterEach(async () => {
  for (const service of started.splice(0)) await service.kill().catch(() => undefined);
  // A service started by a stand-in owner is not ours to kill() (no handle): its pid file says what to stop.
  for (const stray of strays.splice(0)) {
    await supervisor.stop(stray.name, 0);
    try {
      process.kill(stray.pid, 0);
      process.kill(-stray.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

function childrenOf(pid: number): number[] {
  return fs
    .readdirSync(`/proc/${pid}/task`)
    .flatMap((task) => fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number));
}

const parentOf = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
const commOf = (pid: number) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();

describe('a service process', () => {
  it('is one Node process started by the test worker, recorded in the pid files, and stops cleanly on SIGTERM', async () => {
    const service = await startServiceProcess('notification-gateway', {});
    started.push(service);
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
    const ready = JSON.parse(service.log().split('\n').find((line) => line.startsWith('{"ready":true'))!) as { pid: number };
    expect(ready.pid).toBe(service.pid);
    expect(parentOf(service.pid)).toBe(process.pid);
    expect(fs.readFileSync(`/proc/${service.pid}/cmdline`, 'utf8').split('\0')).toContain(path.join(repoRoot, 'src', 'services', 'bin.ts'));
    // tsx may run esbuild's helper (a Go binary) while it transforms; never another Node process.
    expect(childrenOf(service.pid).map(commOf).filter((comm) => comm.startsWith('node'))).toEqual([]);
    expect(supervisor.read(service.name)?.pid).toBe(service.pid);

    await service.stop();
    expect(service.isRunning()).toBe(false);
    await waitFor('the exit status', async () => service.exitStatus() !== undefined, { timeoutMs: 5000, intervalMs: 20 });
    expect(service.exitStatus()).toEqual({ code: 0, signal: null });
    expect(supervisor.read(service.name)).toBeUndefined();
  });

  it('exits when its owner, the test worker that started it, is SIGKILLed', async () => {
    // A stand-in test worker: starts the service the way a suite does, says which one, then idles.
    const script = [
      `import { startServiceProcess } from ${JSON.stringify(pathToFileURL(path.join(repoRoot, 'lab', 'infra', 'services.ts')).href)};`,
      `const service = await startServiceProcess('notification-gateway', {});`,
      `console.log(JSON.stringify({ name: service.name, pid: service.pid }));`,
      `setInterval(() => undefined, 60_000);`,
    ].join('\n');
    const owner = spawn(process.execPath, ['--import', 'tsx/esm', '--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    owner.stdout.on('data', (chunk) => (output += chunk));
    try {
      await waitFor('the stand-in worker to start its service', async () => output.includes('\n'), { timeoutMs: 90_000, intervalMs: 100 });
      const { name, pid } = JSON.parse(output.split('\n')[0]!) as { name: string; pid: number };
      strays.push({ name, pid });
      const record = { pid, startTime: procStartTime(pid)! };
      expect(isAlive(record)).toBe(true);
      expect(parentOf(pid)).toBe(owner.pid);

      const killedAt = Date.now();
      owner.kill('SIGKILL');
      await waitFor('the orphaned service to exit', async () => !isAlive(record), { timeoutMs: 15_000, intervalMs: 50 });
      report(`owner SIGKILLed → service exited after ${Date.now() - killedAt} ms`);
      expect(fs.readFileSync(runPaths.log(name), 'utf8')).not.toMatch(/"level":(50|60)/);
    } finally {
      owner.kill('SIGKILL');
    }
  });

  it('exits when its owner pid belongs to another process than the one that started it (a recycled pid)', async () => {
    // Our own pid, alive, but with a start time that is not ours: what a recycled pid looks like.
    const service = await startServiceProcess('notification-gateway', {}, { env: { LAB_OWNER_START_TIME: '1' } });
    started.push(service);
    const startedAt = Date.now();
    await service.exited(15_000);
    report(`owner pid with another start time → service exited after ${Date.now() - startedAt} ms`);
    await waitFor('the exit status', async () => service.exitStatus() !== undefined, { timeoutMs: 5000, intervalMs: 20 });
    expect(service.exitStatus()).toEqual({ code: 0, signal: null });
  });

  it('fails to start with exit code 1 and the reason when it cannot run', async () => {
    // @ts-expect-error an unknown service name is a type error; at run time the process exits naming it
    await expect(startServiceProcess('no-such-service', {})).rejects.toThrow(/exited during start \(code 1\)[\s\S]*unknown service 'no-such-service'/);
  });
});
