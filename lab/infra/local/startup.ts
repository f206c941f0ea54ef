/**
 * One attempt to start the local cluster: the processes it started, whether it is still worth
 * continuing, and readiness waits that know both.
 *
 * - A component that dies while starting (a port already taken, a bad flag, the wrong Java) fails the
 *   attempt at once, with the last lines of its log, instead of after a wait's timeout that only says
 *   "timed out" (the registry used to be waited for 90 s after it had died in its first second).
 * - The first failure, or an interrupt through `signal`, aborts the attempt: no further process is
 *   started, every other wait gives up at its next poll, and `all()` returns only once every chain has
 *   stopped, so whoever then stops the processes does not race a chain still starting one.
 */
import path from 'node:path';
import { waitFor } from '../ports.ts';
import { tailLines } from './logs.ts';
import { isAlive, type ProcessExit, type ProcessRecord, type ProcessSpec, type Supervisor } from './supervisor.ts';

/** Runs a one-shot step to its end; throws with the end of its log unless it exited with 0. */
export type StepRunner = (spec: ProcessSpec) => Promise<void>;

export class Startup {
  private readonly controller = new AbortController();
  private readonly started: ProcessRecord[] = [];
  private readonly exitCodes = new Map<string, string>();
  private readonly runningSteps = new Set<string>();

  constructor(
    private readonly supervisor: Supervisor,
    private readonly log: (line: string) => void = () => undefined,
    signal?: AbortSignal,
  ) {
    if (signal?.aborted) this.abort(signal.reason);
    signal?.addEventListener('abort', () => this.abort(signal.reason), { once: true });
  }

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  /** Why the attempt was aborted (the first failure, or the interrupt). */
  get reason(): unknown {
    return this.controller.signal.reason;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.controller.abort(reason);
    // One-shot steps would only finish work nobody needs: stop them so the attempt ends sooner.
    for (const name of this.runningSteps) void this.supervisor.stop(name, 0);
  }

  /** Starts a process unless the attempt was aborted meanwhile (then throws the reason). */
  async start(spec: ProcessSpec, logPath: (file: string) => string = (file) => file): Promise<ProcessRecord> {
    this.controller.signal.throwIfAborted();
    const record = await this.supervisor.startWherePlaced(spec, (code, signal) => this.exitCodes.set(spec.name, describeExit({ code, signal })));
    this.started.push(record);
    this.log(`started ${spec.name} (log: ${logPath(spec.logFile)})`);
    return record;
  }

  /** Runs a one-shot step (see `Supervisor.run`) unless aborted; throws with its log's end if it fails. */
  readonly run: StepRunner = async (spec) => {
    this.controller.signal.throwIfAborted();
    this.runningSteps.add(spec.name);
    let exit: ProcessExit;
    try {
      exit = await this.supervisor.run(spec);
    } finally {
      this.runningSteps.delete(spec.name);
    }
    this.controller.signal.throwIfAborted();
    if (exit.code !== 0) throw new Error(withLogTail(`${spec.name} failed (${describeExit(exit)})`, spec.logFile));
  };

  /**
   * A process this attempt started that is no longer running, described with the end of its log. Its
   * exit event decides (it is our child), so the exit code is known; /proc is the fallback should the
   * event never come, given a second, since /proc shows the exit before Node has reaped the child.
   */
  exited(): string | undefined {
    const dead = this.started.find((record) => this.exitCodes.has(record.spec.name) || (!isAlive(record) && this.deadSince(record) > 1000));
    if (!dead) return undefined;
    const how = this.exitCodes.get(dead.spec.name);
    return withLogTail(`${dead.spec.name} exited during start-up${how ? ` (${how})` : ''}`, dead.spec.logFile);
  }

  private readonly firstSeenDead = new Map<string, number>();
  private deadSince(record: ProcessRecord): number {
    const since = this.firstSeenDead.get(record.spec.name) ?? Date.now();
    this.firstSeenDead.set(record.spec.name, since);
    return Date.now() - since;
  }

  /** `waitFor` that gives up at once when the attempt was aborted or one of its processes died. */
  waitFor(what: string, probe: () => Promise<boolean>, options: { timeoutMs?: number; intervalMs?: number; hint?: string } = {}): Promise<void> {
    return waitFor(what, probe, {
      ...options,
      giveUp: () => (this.aborted ? 'start-up aborted' : this.exited()),
    });
  }

  /**
   * Runs the chains in parallel; the first one to fail aborts the others. Resolves when all succeeded,
   * else rejects with the abort reason once every chain has settled.
   */
  async all(chains: Array<() => Promise<void>>): Promise<void> {
    await Promise.allSettled(
      chains.map((chain) =>
        chain().catch((error: unknown) => {
          this.abort(error);
          throw error;
        }),
      ),
    );
    if (this.aborted) throw this.reason;
  }
}

function describeExit({ code, signal }: ProcessExit): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

function withLogTail(what: string, logFile: string): string {
  const tail = tailLines(logFile, 20)
    .replace(/^\n+/, '') // the supervisor's start line follows an empty one
    .split('\n')
    .map((line) => `  | ${line}`)
    .join('\n');
  return `${what}; last lines of ${path.basename(logFile)}:\n${tail}`;
}
