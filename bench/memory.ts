/**
 * Resident memory of the local cluster's processes (from their pid files), read once before any load:
 * what the machine spends on the lab before a service does anything. Section 4 prints the RSS of its
 * three service processes, idle.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LabEnvironment } from '../lab/infra/environment.ts';

/** VmRSS of a process in MiB, undefined once it is gone. */
export function residentMiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** "broker-1 319, broker-2 289, …" in MiB, or undefined when the provider has no pid files. */
export function clusterResidentMemory(env: LabEnvironment): string | undefined {
  const control = env.descriptor.processControl;
  if (control?.kind !== 'local') return undefined;
  const dir = path.join(control.runDir, 'pids');
  if (!fs.existsSync(dir)) return undefined;
  const entries = fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.json') && !file.startsWith('guard'))
    .sort()
    .map((file) => {
      const { pid } = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { pid: number };
      const rss = residentMiB(pid);
      return rss === undefined ? undefined : `${path.basename(file, '.json')} ${Math.round(rss)}`;
    })
    .filter(Boolean);
  return entries.length ? entries.join(', ') : undefined;
}
