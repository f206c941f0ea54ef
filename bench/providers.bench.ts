/**
 * `npm run bench:providers`: what each provider costs before an experiment runs, measured side by side
 * in one run on this checkout (it stops the checkout's cluster first, and leaves none running):
 *
 *   cold start   `lab up` with no cluster running, to every component ready (images already built:
 *                setup's image build is a one-off, timed in setup's own output)
 *   warm reuse   `lab up` again while it runs: what a suite's global setup pays to reuse it
 *   idle RSS     resident memory of the cluster's processes 20 s after ready, before any load (for
 *                containers the same processes as the host sees them, plus one containerd shim each)
 *   down         `lab down`, to no lab process and no lab container
 *
 * Every figure is the median of LAB_BENCH_REPEATS (default 3) repetitions, each listed as `value @ load`
 * (1-minute load average); the provider that goes first alternates. Compare the providers within a run.
 *
 *   LAB_BENCH_REPEATS=1 npm run bench:providers
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { residentMiB } from './memory.ts';
import { ratioSample, renderTable, sample, type Heading, type Row, type Sample } from './table.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
const pidDir = path.join(repoRoot, '.lab', 'run', 'pids');
const providers = ['local', 'containers'] as const;
type Provider = (typeof providers)[number];
const repeats = Number(process.env.LAB_BENCH_REPEATS ?? 3);

/** Runs `lab <args>` on a provider; returns its wall time in seconds. Throws with its output if it fails. */
function lab(provider: Provider, ...args: string[]): number {
  const started = process.hrtime.bigint();
  execFileSync(process.execPath, [path.join(repoRoot, 'tools/lab-cli/lab.mjs'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, LAB_PROVIDER: provider },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 600_000,
  });
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** MiB resident in the cluster's processes (pid files, the guard excluded) and, per container, its shim. */
function idleResidentMiB(): number {
  const pids = fs
    .readdirSync(pidDir)
    .filter((file) => file.endsWith('.json') && !file.startsWith('guard'))
    .map((file) => (JSON.parse(fs.readFileSync(path.join(pidDir, file), 'utf8')) as { pid: number }).pid);
  const shims = containerIds().flatMap((id) => shimPids(id));
  return [...pids, ...shims].reduce((sum, pid) => sum + (residentMiB(pid) ?? 0), 0);
}

function containerIds(): string[] {
  try {
    return execFileSync('docker', ['ps', '--quiet', '--no-trunc', '--filter', `label=lab.home=${path.join(repoRoot, '.lab')}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** The containerd shim of a container: its command line names the container's full id. */
function shimPids(id: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(id) && fs.readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('containerd-shim');
      } catch {
        return false;
      }
    })
    .map(Number);
}

type Measure = 'cold' | 'warm' | 'rss' | 'down';
const samples: Record<Provider, Record<Measure, Sample[]>> = {
  local: { cold: [], warm: [], rss: [], down: [] },
  containers: { cold: [], warm: [], rss: [], down: [] },
};

lab('local', 'down', '--quiet');
for (let repetition = 0; repetition < repeats; repetition += 1) {
  const order = repetition % 2 === 0 ? providers : [...providers].reverse();
  for (const provider of order) {
    process.stderr.write(`[bench:providers] repetition ${repetition + 1}/${repeats}: ${provider}\n`);
    samples[provider].cold.push(sample(lab(provider, 'up')));
    samples[provider].warm.push(sample(lab(provider, 'up')));
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    samples[provider].rss.push(sample(idleResidentMiB()));
    samples[provider].down.push(sample(lab(provider, 'down')));
  }
}

const names: Record<Measure, [string, Row['format']]> = { cold: ['cold start (s)', 's'], warm: ['warm reuse (s)', 's'], rss: ['idle RSS (MiB)', 'MiB'], down: ['lab down (s)', 's'] };
const lines: Array<Row | Heading> = (['cold', 'warm', 'rss', 'down'] as const).flatMap((measure) => {
  const [name, format] = names[measure];
  return [
    { heading: name },
    { name: '  local', format, samples: samples.local[measure] },
    { name: '  containers', format, samples: samples.containers[measure] },
    { name: '  containers / local', format: 'ratio' as const, samples: samples.containers[measure].map((c, i) => ratioSample(c, samples.local[measure][i]!)) },
  ];
});
process.stdout.write(`${renderTable(lines)}\n`);
