/**
 * Process entry of one service: `npx lab service <name>` with the config as JSON in LAB_SERVICE_CONFIG.
 * Prints one line `{"ready":true,"url":…,"pid":…}` on stdout when started (the harness waits for it),
 * stops cleanly on SIGTERM/SIGINT, and exits when its parent (the test worker) goes away, so a crashed
 * test run leaves no service behind. A service whose `failed` resolves (a consumer that crashed for
 * good) is stopped and the process exits with code 1.
 */
import { serviceStarters } from './index.ts';

export async function runService(name: string): Promise<void> {
  const load = serviceStarters[name];
  if (!load) throw new Error(`unknown service '${name}' (known: ${Object.keys(serviceStarters).join(', ')})`);
  const raw = process.env.LAB_SERVICE_CONFIG;
  if (!raw) throw new Error('LAB_SERVICE_CONFIG is not set: pass the service config as JSON');
  const start = await load();
  const service = await start(JSON.parse(raw) as never);
  process.stdout.write(`${JSON.stringify({ ready: true, service: name, url: service.url, pid: process.pid })}\n`);

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await service.stop().catch((error: unknown) => console.error(`stopping ${name} failed: ${String(error)}`));
    process.exit(code);
  };
  // A service that failed for good must not live on doing nothing: exit non-zero so the supervisor sees
  // it (and restarts it, or reports it). The stop is bounded: the exit happens even if it hangs.
  void service.failed?.then((error) => {
    console.error(`${name} failed: ${error.message}; exiting with code 1`);
    setTimeout(() => process.exit(1), 30_000).unref();
    void stop(1);
  });
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  // Exit with the process that started us (LAB_OWNER_PID, set by the `lab` wrapper; else our parent).
  const owner = Number(process.env.LAB_OWNER_PID ?? process.ppid);
  setInterval(() => {
    try {
      process.kill(owner, 0);
    } catch {
      void stop(0);
    }
  }, 500).unref();
}
