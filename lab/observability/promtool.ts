/**
 * Prometheus's own rule checker, `promtool` (Debian's `prometheus` package, installed by `npm run setup`):
 * the lab validates its rules with the tool Prometheus itself loads them with, not a re-implementation.
 */
import { spawnSync } from 'node:child_process';
import { aptInstall, requireCommand } from '../infra/prerequisites.ts';

export const promtoolBinaries = ['promtool', '/usr/bin/promtool'];

export function promtool(args: string[], cwd?: string): { ok: boolean; output: string } {
  const binary = requireCommand('promtool', promtoolBinaries, `${aptInstall('prometheus')} (or \`npm run setup\`)`);
  const result = spawnSync(binary, args, { encoding: 'utf8', cwd });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}
