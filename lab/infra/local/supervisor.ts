/**
 * Starts and stops the lab's native processes so that none outlives the lab.
 *
 * - Every process gets its own process group (`detached`), so a signal reaches the JVM and anything it
 *   forked, and Ctrl-C in the terminal does not hit the brokers before the lab can stop them in order.
 * - A pid file per process records pid and the kernel's start time of that pid (from /proc/<pid>/stat):
 *   a later `lab down` or the reaper on next start only signals a pid whose start time still matches,
 *   so a recycled pid is never killed by mistake.
 * - The spec (command, args, log file) is stored with the pid so another process (a test worker
 *   restarting a killed broker) can start it again exactly as `lab up` did.
 *
 * Hand-written because no maintained npm library supervises detached process groups with persistent
 * pid files across processes (execa and friends manage children of the current process only).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sleep } from '../ports.ts';
import { docker } from '../containers/engine.ts';
import type { ContainerPlacement } from '../containers/placement.ts';
import { removeContainer, runStepContainer, startServerContainer, stopContainer, unpauseContainer } from '../containers/runtime.ts';

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  logFile: string;
  /** TCP port on 127.0.0.1 that answers once the process is up (used after a restart). */
  readyPort?: number;
  /**
   * The containers provider: run this command line in a container (host networking) instead of as a
   * child process. The record's pid is then the container's main process as the host sees it, so
   * liveness is read from /proc as for a native process; stop, kill and pause go through the engine.
   */
  container?: ContainerPlacement;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ProcessRecord {
  spec: ProcessSpec;
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks since boot when the process started. */
  startTime: string;
  startedAt: string;
}

export function procStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19]; // field 22 overall = index 19 after pid and comm
  } catch {
    return undefined;
  }
}

/** Zombie or gone counts as not alive (a killed child we have not reaped yet is a zombie). */
function procState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/**
 * Stopped by SIGSTOP (state T): a run killed while its nemesis held a broker paused leaves it so. It
 * counts as alive and its port accepts connections (the kernel completes the handshake), yet it never
 * answers: a health check must ask for this explicitly.
 */
export function isStopped(record: Pick<ProcessRecord, 'pid' | 'startTime'> & { spec?: ProcessSpec }): boolean {
  if (record.spec?.container) {
    // `docker pause` freezes the cgroup: the process is not in state T, the engine knows.
    try {
      return docker(['inspect', '--format', '{{.State.Paused}}', record.spec.container.name], { timeoutMs: 30_000 }) === 'true';
    } catch {
      return false;
    }
  }
  return procState(record.pid) === 'T' && procStartTime(record.pid) === record.startTime;
}

export function isAlive(record: Pick<ProcessRecord, 'pid' | 'startTime'>): boolean {
  if (record.pid <= 1) return false; // a container that exited before the engine reported its pid
  const state = procState(record.pid);
  if (state === undefined || state === 'Z' || state === 'X') return false;
  return procStartTime(record.pid) === record.startTime;
}

/** Name of the watchdog that stops an ephemeral cluster when its owner (a test run) dies. */
export const guardName = 'guard';

export class Supervisor {
  constructor(private readonly pidDir: string) {}

  private pidFile(name: string): string {
    return path.join(this.pidDir, `${name}.json`);
  }

  read(name: string): ProcessRecord | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.pidFile(name), 'utf8')) as ProcessRecord;
    } catch {
      return undefined;
    }
  }

  list(): ProcessRecord[] {
    if (!fs.existsSync(this.pidDir)) return [];
    return fs
      .readdirSync(this.pidDir)
      .filter((file) => file.endsWith('.json'))
      .map((file) => this.read(file.slice(0, -'.json'.length)))
      .filter((record): record is ProcessRecord => record !== undefined);
  }

  /**
   * Starts the process detached in its own group, output appended to its log file. `onExit` hears of
   * its exit while this process lives (a start-up reports the exit code of a component that died).
   */
  start(spec: ProcessSpec, onExit?: (code: number | null, signal: NodeJS.Signals | null) => void): ProcessRecord {
    if (spec.container) throw new Error(`${spec.name} is placed in a container: startWherePlaced starts it`);
    const { record, child } = this.launch(spec);
    if (onExit) child.on('exit', onExit);
    // Reap it if it dies while we are still around, without keeping our event loop alive for it.
    child.unref();
    return record;
  }

  /** `start`, or for a spec the containers provider placed, its container through the engine. */
  async startWherePlaced(spec: ProcessSpec, onExit?: (code: number | null, signal: NodeJS.Signals | null) => void): Promise<ProcessRecord> {
    return spec.container ? this.startContainer(spec) : this.start(spec, onExit);
  }

  /**
   * Runs a one-shot step (formatting Kafka storage, initialising MariaDB's data dir) as a started
   * process, so `lab down` and the guard stop it like any other, and resolves when it exits; its pid
   * file goes then. Run as plain children instead, the four storage formatters outlived a test run
   * stopped during start-up by more than 15 s on a loaded machine. Unlike `start`, the child keeps the
   * event loop alive: with nothing else pending, Node would exit (code 0) before the step's exit came.
   */
  run(spec: ProcessSpec): Promise<ProcessExit> {
    if (spec.container) return this.runContainer(spec);
    return new Promise((resolve) => {
      const { record, child } = this.launch(spec);
      child.on('exit', (code, signal) => {
        if (this.read(spec.name)?.pid === record.pid) fs.rmSync(this.pidFile(spec.name), { force: true });
        resolve({ code, signal });
      });
    });
  }

  /**
   * A server in a container, started through Testcontainers (a container of the same name left over is
   * removed first); the host pid of its main process is recorded like a native pid.
   */
  private async startContainer(spec: ProcessSpec): Promise<ProcessRecord> {
    const container = spec.container!;
    this.announce(spec, `in container ${container.name} (${container.image})`);
    const { pid } = await startServerContainer(spec);
    return this.record(spec, pid);
  }

  /**
   * A one-shot step in a container: recorded (pid 0, the container's name is the handle) so `lab down`,
   * the guard and an aborted start-up stop it through the engine, then waited for to its exit code.
   */
  private async runContainer(spec: ProcessSpec): Promise<ProcessExit> {
    this.announce(spec, `in container ${spec.container!.name} (${spec.container!.image})`);
    const record = this.record(spec, 0);
    try {
      const { code } = await runStepContainer(spec);
      return { code, signal: null };
    } finally {
      if (this.read(spec.name)?.startedAt === record.startedAt) fs.rmSync(this.pidFile(spec.name), { force: true });
    }
  }

  private announce(spec: ProcessSpec, where: string): void {
    fs.mkdirSync(this.pidDir, { recursive: true });
    fs.mkdirSync(path.dirname(spec.logFile), { recursive: true });
    fs.appendFileSync(spec.logFile, `\n--- lab: starting ${spec.name} ${where} at ${new Date().toISOString()}: ${spec.command} ${spec.args.join(' ')}\n`);
  }

  private record(spec: ProcessSpec, pid: number): ProcessRecord {
    const record: ProcessRecord = {
      spec,
      pid,
      startTime: (pid > 1 && procStartTime(pid)) || 'unknown',
      startedAt: new Date().toISOString(),
    };
    fs.writeFileSync(this.pidFile(spec.name), JSON.stringify(record, null, 2));
    return record;
  }

  private launch(spec: ProcessSpec): { record: ProcessRecord; child: ChildProcess } {
    fs.mkdirSync(this.pidDir, { recursive: true });
    fs.mkdirSync(path.dirname(spec.logFile), { recursive: true });
    const log = fs.openSync(spec.logFile, 'a');
    fs.writeSync(log, `\n--- lab: starting ${spec.name} at ${new Date().toISOString()}: ${spec.command} ${spec.args.join(' ')}\n`);
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      detached: true,
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    if (child.pid === undefined) throw new Error(`could not start ${spec.name}: ${spec.command} did not spawn`);
    child.on('error', () => undefined);
    const record: ProcessRecord = {
      spec,
      pid: child.pid,
      startTime: procStartTime(child.pid) ?? 'unknown',
      startedAt: new Date().toISOString(),
    };
    fs.writeFileSync(this.pidFile(spec.name), JSON.stringify(record, null, 2));
    return { record, child };
  }

  running(name: string): boolean {
    const record = this.read(name);
    return record !== undefined && isAlive(record);
  }

  signal(name: string, signal: NodeJS.Signals): void {
    const record = this.read(name);
    if (!record || !isAlive(record)) throw new Error(`${name} is not running`);
    process.kill(-record.pid, signal);
  }

  /**
   * A container's end: `docker stop` (SIGTERM, SIGKILL after the grace period; a paused container is
   * unpaused first so it can handle SIGTERM), then removed. Its data stays in the bind-mounted run dir.
   */
  private async stopContainer(container: ContainerPlacement, graceMs: number): Promise<void> {
    if (graceMs > 0) {
      await unpauseContainer(container.name).catch(() => undefined);
      await stopContainer(container.name, Math.ceil(graceMs / 1000)).catch(() => undefined);
    }
    await removeContainer(container.name).catch(() => undefined);
  }

  /** SIGTERM the group, wait up to `graceMs`, then SIGKILL; removes the pid file. */
  async stop(name: string, graceMs = 10_000): Promise<void> {
    const record = this.read(name);
    if (!record) return;
    if (name === guardName && process.env.LAB_GUARD_DOWN === '1') {
      // We *are* the guard running `lab down`: drop its pid file, do not signal our own group.
      fs.rmSync(this.pidFile(name), { force: true });
      return;
    }
    if (record.spec.container) {
      // Through the engine (a one-shot step's runContainer then hears its exit).
      await this.stopContainer(record.spec.container, graceMs);
      while (isAlive(record)) await sleep(50);
    } else if (record.pid !== process.pid && isAlive(record)) {
      signalGroup(record.pid, 'SIGCONT'); // a paused process cannot handle SIGTERM
      signalGroup(record.pid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (isAlive(record) && Date.now() < deadline) await sleep(100);
      if (isAlive(record)) {
        signalGroup(record.pid, 'SIGKILL');
        while (isAlive(record)) await sleep(50);
      }
    }
    fs.rmSync(this.pidFile(name), { force: true });
  }

  /** Stops every recorded process, `order` first (e.g. brokers before the controller). */
  async stopAll(order: string[] = [], graceMs = 10_000): Promise<string[]> {
    const names = this.list().map((record) => record.spec.name);
    const ordered = [...order.filter((name) => names.includes(name)), ...names.filter((name) => !order.includes(name))];
    const stopped: string[] = [];
    // Stop in order but in parallel within a tier: all brokers at once, then the rest.
    const tiers = groupBy(ordered, (name) => tierOf(name, order));
    for (const tier of tiers) {
      await Promise.all(
        tier.map(async (name) => {
          const wasAlive = this.running(name);
          await this.stop(name, graceMs);
          if (wasAlive) stopped.push(name);
        }),
      );
    }
    return stopped;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

function tierOf(name: string, order: string[]): string {
  const prefix = name.replace(/-\d+$/, '');
  return order.some((entry) => entry === name) ? prefix : 'rest';
}

function groupBy<T>(items: T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return [...groups.values()];
}
