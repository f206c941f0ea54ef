/**
 * A lab test worker exits when the Vitest process that forked it is gone.
 *
 *   exitWithRunner();   // once per worker: lab/infra/worker-setup.ts, a setup file of the lab project
 *
 * Why: Vitest's forks pool does not take its worker down when the runner itself dies without tearing
 * down (SIGKILL, a crashed terminal, an OOM kill). On a cluster the run started, the guard kills
 * everything; on a reused cluster (`npx lab up` first, the usual way) nothing did: the worker was
 * re-parented to PID 1 and went on running its experiment against the shared cluster — killing brokers,
 * starting services — or sat idle with its connections open (measured: alive 4 min after its runner, an
 * E-001 case still faulting brokers). The services it started watch their owner (LAB_OWNER_PID = this
 * worker) and exit within seconds once it is gone. A fault it had injected (a SIGSTOPped broker) makes
 * the cluster unhealthy; `npx lab status` shows it and the next run reaps and restarts the cluster.
 *
 * Polls the parent pid instead of listening for the IPC 'disconnect' event: the pool may close the
 * channel on a normal shutdown too, and a worker must not exit early then.
 */

export interface RunnerWatch {
  stop(): void;
}

export function exitWithRunner(options: { intervalMs?: number; onOrphaned?: () => void } = {}): RunnerWatch {
  const runner = process.ppid;
  const onOrphaned =
    options.onOrphaned ??
    (() => {
      process.stderr.write(`[lab] the test runner (pid ${runner}) is gone: worker ${process.pid} exits\n`);
      // Not process.exit: Vitest replaces it in workers with an error report to the (dead) runner, and
      // the worker went on, its memory growing. Nothing is left to flush for a runner that is gone.
      process.kill(process.pid, 'SIGKILL');
    });
  const timer = setInterval(() => {
    if (process.ppid === runner) return;
    clearInterval(timer);
    onOrphaned();
  }, options.intervalMs ?? 500);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
