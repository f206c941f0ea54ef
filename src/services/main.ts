/**
 * Running one service as its own process: `node --import tsx src/services/bin.ts <name>` (what the
 * harness spawns) or `npx lab service <name>`, with the config as JSON in LAB_SERVICE_CONFIG.
 * Prints one line `{"ready":true,"url":…,"pid":…,"runtime":"node 24.21.0"}` on stdout when started (the
 * harness waits for it, and checks the runtime is the one it asked for: Node, Bun or Deno),
 * stops cleanly on SIGTERM/SIGINT, and exits when its owner (LAB_OWNER_PID: the test worker that
 * started it) goes away, so a crashed test run leaves no service behind. A service whose `failed`
 * resolves (a consumer that crashed for good) is stopped and the process exits with code 1.
 */
import fs from 'node:fs';
import { isServiceName, serviceNames, startService } from './index.ts';

/** The runtime this process runs on, from what each one adds to process.versions. */
export function runtimeName(): string {
  const versions = process.versions as NodeJS.ProcessVersions & { bun?: string; deno?: string };
  return versions.bun ? `bun ${versions.bun}` : versions.deno ? `deno ${versions.deno}` : `node ${process.versions.node}`;
}

export async function runService(name: string): Promise<void> {
  if (!isServiceName(name)) throw new Error(`unknown service '${name}' (known: ${serviceNames.join(', ')})`);
  const raw = process.env.LAB_SERVICE_CONFIG;
  if (!raw) throw new Error('LAB_SERVICE_CONFIG is not set: pass the service config as JSON');
  const service = await startService(name, JSON.parse(raw) as never);
  process.stdout.write(`${JSON.stringify({ ready: true, service: name, url: service.url, pid: process.pid, runtime: runtimeName() })}\n`);

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
  // Exit with the process that started us: LAB_OWNER_PID (set by the harness, or by the `lab` wrapper),
  // else our parent. LAB_OWNER_START_TIME, when given, tells the owner from a later process that was
  // handed its pid: a test run churns through thousands of pids, and a watch that only asks "is pid N
  // alive?" would keep an orphan running behind a recycled pid.
  const owner = Number(process.env.LAB_OWNER_PID ?? process.ppid);
  const ownerStartTime = process.env.LAB_OWNER_START_TIME || undefined;
  setInterval(() => {
    if (!ownerAlive(owner, ownerStartTime)) void stop(0);
  }, 500).unref();
}

function ownerAlive(pid: number, startTime: string | undefined): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (startTime === undefined) return true;
  try {
    // Field 22 of /proc/<pid>/stat (clock ticks since boot at start), as the supervisor records it; a
    // zombie (state Z) is dead too. The command name (field 2) may hold spaces: split after the last ')'.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] !== 'Z' && fields[19] === startTime;
  } catch {
    return false;
  }
}
