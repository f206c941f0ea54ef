/**
 * The Docker engine as the lab uses it: the `docker` CLI (the same calls the bash guard could make),
 * and starting `dockerd` where no init system does (these machines have no systemd).
 *
 * The daemon is started without its bridge: `--bridge=none` and no iptables rules, because only
 * loopback traffic is allowed here. Every lab container uses host networking.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { labHome } from '../paths.ts';
import { checkoutContainersQuery } from './labels.ts';

const execFileAsync = promisify(execFile);

export const engineLogDir = path.join(labHome, 'docker');

/**
 * dockerd's flags: no bridge, no NAT, no iptables (host networking only). Its pid file in .lab/docker/:
 * /var/run/docker.pid outlives a machine's session, and dockerd refuses to start while the pid in it
 * belongs to any live process, a recycled one included.
 */
export function dockerdArgs(): string[] {
  return ['--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false', '--ip-forward=false', `--pidfile=${path.join(engineLogDir, 'docker.pid')}`];
}

/** Runs `docker …` and returns its trimmed stdout; throws with its stderr. */
export function docker(args: string[], { timeoutMs = 120_000 }: { timeoutMs?: number } = {}): string {
  return execFileSync('docker', args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 }).trim();
}

export async function dockerAsync(args: string[], { timeoutMs = 120_000 }: { timeoutMs?: number } = {}): Promise<string> {
  const { stdout } = await execFileAsync('docker', args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  return stdout.trim();
}

/** True when a Docker engine answers (not just a docker client on PATH). */
export function engineAnswers(): boolean {
  if (process.env.DOCKER_HOST === undefined && !fs.existsSync('/var/run/docker.sock')) return false;
  try {
    docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Starts dockerd detached (its own session, outliving setup), logs in .lab/docker/; waits until it answers. */
export async function startEngine(dockerd: string): Promise<void> {
  fs.mkdirSync(engineLogDir, { recursive: true });
  const log = fs.openSync(path.join(engineLogDir, 'dockerd.log'), 'a');
  const child = spawn(dockerd, dockerdArgs(), { detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  child.unref();
  fs.writeFileSync(path.join(engineLogDir, 'dockerd.pid'), String(child.pid));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (engineAnswers()) return;
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`dockerd did not answer within 60 s; see ${path.join(engineLogDir, 'dockerd.log')}`);
}

/** Ids of every container of this checkout (none, when no engine answers). */
export function checkoutContainers(home = labHome): string[] {
  try {
    return docker(checkoutContainersQuery(home), { timeoutMs: 30_000 }).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** The reaper: removes every container of this checkout, running, paused or exited. Returns how many. */
export async function reapCheckoutContainers(home = labHome): Promise<number> {
  const ids = checkoutContainers(home);
  if (ids.length > 0) await dockerAsync(['rm', '--force', '--volumes', ...ids]).catch(() => undefined);
  return ids.length;
}
