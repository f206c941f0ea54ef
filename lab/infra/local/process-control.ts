/**
 * Process faults for the local and containers providers: signals to the process groups recorded by
 * the supervisor, or, for a process the containers provider placed in a container, the engine's kill,
 * pause and unpause (the cgroup freezer). Works from any process (a test worker, the CLI) because the
 * pid files and start specs are on disk.
 */
import type { ProcessControl, ProcessTarget } from '../environment.ts';
import { pauseContainerNow, signalContainer, unpauseContainer } from '../containers/runtime.ts';
import { canConnect, sleep, waitFor } from '../ports.ts';
import { guardName, isAlive, type Supervisor } from './supervisor.ts';

const notFaultable = new Set([guardName, 'toxiproxy']);

export class LocalProcessControl implements ProcessControl {
  constructor(private readonly supervisor: Supervisor) {}

  targets(): ProcessTarget[] {
    return this.supervisor
      .list()
      .map((record) => record.spec.name)
      .filter((name) => !notFaultable.has(name) && !name.startsWith('svc-')) // services are faulted through their own handles
      .sort() as ProcessTarget[];
  }

  private record(target: ProcessTarget) {
    const record = this.supervisor.read(target);
    if (!record || notFaultable.has(target)) throw new Error(`unknown process target '${target}' (known: ${this.targets().join(', ')})`);
    return record;
  }

  async kill(target: ProcessTarget): Promise<void> {
    const record = this.record(target);
    if (!isAlive(record)) return;
    if (record.spec.container) await signalContainer(record.spec.container.name, 'SIGKILL');
    else process.kill(-record.pid, 'SIGKILL');
    while (isAlive(record)) await sleep(20);
  }

  async terminate(target: ProcessTarget, graceMs = 60_000): Promise<void> {
    const record = this.record(target);
    if (!isAlive(record)) return;
    // Unlike supervisor.stop, the pid file stays: restart() starts the process again from its spec.
    const container = record.spec.container?.name;
    const signal = (name: 'SIGTERM' | 'SIGKILL') => (container ? signalContainer(container, name).catch(() => undefined) : process.kill(-record.pid, name));
    // A paused process cannot handle SIGTERM: SIGCONT, or thaw the container's cgroup (`docker pause`).
    if (container) await unpauseContainer(container).catch(ignoreNotPaused);
    else process.kill(-record.pid, 'SIGCONT');
    await signal('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (isAlive(record) && Date.now() < deadline) await sleep(50);
    if (isAlive(record)) await signal('SIGKILL');
    while (isAlive(record)) await sleep(20);
  }

  async pause(target: ProcessTarget): Promise<void> {
    const record = this.record(target);
    if (record.spec.container) await pauseContainer(record.spec.container.name);
    else process.kill(-record.pid, 'SIGSTOP');
  }

  async resume(target: ProcessTarget): Promise<void> {
    const record = this.record(target);
    if (record.spec.container) await unpauseContainer(record.spec.container.name).catch(ignoreNotPaused);
    else process.kill(-record.pid, 'SIGCONT');
  }

  async restart(target: ProcessTarget): Promise<void> {
    const record = this.record(target);
    if (isAlive(record)) await this.supervisor.stop(target);
    const restarted = await this.supervisor.startWherePlaced(record.spec);
    const port = record.spec.readyPort;
    if (port !== undefined) {
      // A broker killed mid-run recovers every log of the run uncleanly before it listens (seen: 186 logs
      // in 23 s on a loaded 2-core machine), so the wait is long — but it ends at once if the process dies.
      await waitFor(
        `${target} to accept connections on ${port} after restart`,
        async () => !isAlive(restarted) || (await canConnect(port)),
        { timeoutMs: 180_000, hint: `see ${record.spec.logFile}` },
      );
    }
    if (!isAlive(restarted)) throw new Error(`${target} exited right after restart; see ${record.spec.logFile}`);
  }

  async isRunning(target: ProcessTarget): Promise<boolean> {
    return isAlive(this.record(target));
  }
}

/**
 * Resuming what is not paused is done, as SIGCONT to a running process is: a paused broker that was then
 * killed and restarted runs in a new container of the same name (seen in E-024's choreography, whose heal
 * unpauses broker 3 after killing it).
 */
function ignoreNotPaused(error: unknown): void {
  if (!/is not paused/.test(String(error))) throw error;
}

/**
 * `docker pause`, tried again when the cgroup v1 freezer gives up: "OCI runtime pause failed: unable to
 * freeze" (runc stops waiting for every task to reach FROZEN; a busy JVM's threads can take longer). Seen
 * on this machine in an E-001 run on the containers provider: the case failed before its fault began.
 * A failed freeze leaves the container running (runc thaws it again), so trying again is safe.
 */
export async function pauseContainer(name: string, attempts = 5, pause: (name: string) => Promise<unknown> = pauseContainerNow): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await pause(name);
      return;
    } catch (error) {
      if (attempt >= attempts || !/unable to freeze/.test(String(error))) throw error;
      await sleep(200 * attempt);
    }
  }
}
