import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Startup } from '../../lab/infra/local/startup.ts';
import { Supervisor } from '../../lab/infra/local/supervisor.ts';

const dirs: string[] = [];
function tempSupervisor() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-startup-'));
  dirs.push(dir);
  return { dir, supervisor: new Supervisor(path.join(dir, 'pids')) };
}

afterEach(async () => {
  for (const dir of dirs.splice(0)) {
    await new Supervisor(path.join(dir, 'pids')).stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const never = async () => false;

describe('Startup', () => {
  it('gives up a readiness wait at once when a process it started exits, with the end of its log', async () => {
    const { dir, supervisor } = tempSupervisor();
    const startup = new Startup(supervisor);
    // Like the registry finding its port taken: a few lines, then exit 1 within a second.
    await startup.start({
      name: 'dies',
      command: 'bash',
      args: ['-c', 'for i in $(seq 1 40); do echo "noise $i"; done; echo "ERROR Port 9000 seems to be in use by another process" >&2; exit 1'],
      logFile: path.join(dir, 'dies.log'),
    });
    const started = Date.now();
    const wait = startup.waitFor('the dying process', never, { timeoutMs: 30_000 });
    await expect(wait).rejects.toThrow(/dies exited during start-up \(code 1\); last lines of dies\.log:[\s\S]*Port 9000 seems to be in use/);
    expect(Date.now() - started).toBeLessThan(5_000);
    // The tail, not the whole log: the early noise is cut off.
    await expect(wait).rejects.not.toThrow(/noise 1\n/);
  });

  it('keeps waiting while its processes run, and times out with the hint when the probe never answers', async () => {
    const { dir, supervisor } = tempSupervisor();
    const startup = new Startup(supervisor);
    await startup.start({ name: 'sleeper', command: 'sleep', args: ['300'], logFile: path.join(dir, 'sleeper.log') });
    await expect(startup.waitFor('a port', never, { timeoutMs: 600, hint: 'see sleeper.log' })).rejects.toThrow(/timed out after 600 ms waiting for a port; see sleeper\.log/);
  });

  it('after the first failure starts nothing more and returns only when every chain has stopped', async () => {
    const { dir, supervisor } = tempSupervisor();
    const startup = new Startup(supervisor);
    let lateStart: unknown;
    let slowChainDone = false;
    const run = startup.all([
      async () => {
        throw new Error('formatting failed');
      },
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 300)); // a step still running (a storage format)
        try {
          await startup.start({ name: 'late', command: 'sleep', args: ['300'], logFile: path.join(dir, 'late.log') });
        } catch (error) {
          lateStart = error;
        }
        slowChainDone = true;
      },
      () => startup.waitFor('something', never, { timeoutMs: 30_000 }),
    ]);
    await expect(run).rejects.toThrow('formatting failed');
    expect(slowChainDone).toBe(true);
    expect(lateStart).toBeInstanceOf(Error);
    expect(supervisor.list()).toEqual([]);
  });

  it('an aborted signal (Ctrl-C on lab up) aborts the start-up with its reason', async () => {
    const { dir, supervisor } = tempSupervisor();
    const interrupt = new AbortController();
    const startup = new Startup(supervisor, undefined, interrupt.signal);
    const wait = startup.waitFor('the registry', never, { timeoutMs: 30_000 });
    interrupt.abort(new Error('interrupted by SIGINT'));
    await expect(wait).rejects.toThrow(/start-up aborted/);
    await expect(startup.start({ name: 'x', command: 'sleep', args: ['300'], logFile: path.join(dir, 'x.log') })).rejects.toThrow('interrupted by SIGINT');
  });
});
