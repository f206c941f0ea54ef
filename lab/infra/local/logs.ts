/**
 * The cluster's process logs after the fact: the last lines of one (for `lab logs` and for the error of
 * a component that died during start-up), and keeping them when a start fails. A failed start removes
 * its run dir (half-initialised data is useless and would be reaped anyway), but the logs are the only
 * record of why it failed, so they move to `.lab/logs/<time>/` first.
 */
import fs from 'node:fs';
import path from 'node:path';

/** How many failed starts' logs to keep: enough to compare a few attempts, bounded on disk. */
const keptAttempts = 10;

/** The last `lines` lines of a file ('' when it does not exist); reads only its end. */
export function tailLines(file: string, lines = 30): string {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fs.fstatSync(fd).size;
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    fs.readSync(fd, buffer, 0, length, size - length);
    const text = buffer.toString('utf8').replace(/\n$/, '');
    return text.split('\n').slice(-lines).join('\n');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Moves `logsDir` to `<keptRoot>/<ISO time>/` and returns that path (undefined when there were no
 * logs). Only the newest attempts are kept.
 */
export function keepLogs(logsDir: string, keptRoot: string): string | undefined {
  if (!fs.existsSync(logsDir)) return undefined;
  fs.mkdirSync(keptRoot, { recursive: true });
  const target = path.join(keptRoot, new Date().toISOString().replace(/[:.]/g, '-'));
  fs.renameSync(logsDir, target);
  const attempts = fs.readdirSync(keptRoot).sort(); // ISO names sort by time
  for (const old of attempts.slice(0, -keptAttempts)) fs.rmSync(path.join(keptRoot, old), { recursive: true, force: true });
  return target;
}

/** The newest kept attempt, if any: where `lab logs` looks when no cluster is running. */
export function latestKeptLogs(keptRoot: string): string | undefined {
  if (!fs.existsSync(keptRoot)) return undefined;
  const newest = fs.readdirSync(keptRoot).sort().at(-1);
  return newest === undefined ? undefined : path.join(keptRoot, newest);
}
