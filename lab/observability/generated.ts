/**
 * The observability files generated from lab/observability (committed, so docker-compose and a Grafana
 * of the user's own can provision them without running the lab): `npx lab observability generate`
 * writes them, and a unit test fails when a committed file differs from what the code generates.
 */
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../infra/paths.ts';
import { walletDashboard } from './dashboards.ts';
import { recordingRules } from './rules.ts';

export const observabilityDir = path.join(repoRoot, 'infra', 'observability');

export function generatedFiles(): Array<{ path: string; content: string }> {
  return [
    { path: path.join(observabilityDir, 'prometheus', 'recording.yml'), content: recordingRules() },
    { path: path.join(observabilityDir, 'grafana', 'dashboards', 'wallet-ledger.json'), content: `${JSON.stringify(walletDashboard(), null, 2)}\n` },
  ];
}

/** Writes the files that differ; returns their paths. */
export function writeGenerated(): string[] {
  const written: string[] = [];
  for (const file of generatedFiles()) {
    if (fs.existsSync(file.path) && fs.readFileSync(file.path, 'utf8') === file.content) continue;
    fs.mkdirSync(path.dirname(file.path), { recursive: true });
    fs.writeFileSync(file.path, file.content);
    written.push(file.path);
  }
  return written;
}
