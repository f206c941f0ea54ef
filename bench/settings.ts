/**
 * The bench's knobs, from the environment, with the sizes as defaults. Smaller sizes are for
 * iterating on one section; the table prints the sizes it ran with, so a number is never read against
 * the wrong workload.
 */
import { chosenRuntime, type Runtime } from '../lab/infra/runtimes.ts';

export const sections = ['relay', 'consumer', 'command', 'e2e', 'perf'] as const;
export type Section = (typeof sections)[number];

export interface BenchSettings {
  /** LAB_BENCH_RECORDS: outbox rows the relay drains and backlog events the consumer applies (100,000). */
  records: number;
  /** LAB_BENCH_REPEATS: repetitions per measurement; every figure is their median (3). */
  repeats: number;
  /** LAB_BENCH_SECONDS: measured seconds of each command-service/SQL run and of each e2e rate (15). */
  seconds: number;
  /** LAB_BENCH_WARMUP_SECONDS: unmeasured load before each of those (5). */
  warmupSeconds: number;
  /** LAB_BENCH_ACCOUNTS: accounts every workload spreads over (200). */
  accounts: number;
  /** LAB_BENCH_CONCURRENCY: requests/transactions in flight in the command bench (32). */
  concurrency: number;
  /** LAB_BENCH_RATES: e2e command rates per second, comma-separated (100,500,1000). */
  rates: number[];
  /** LAB_BENCH_BATCH: rows per relay batch = records per raw producer send (500). */
  batchSize: number;
  /** LAB_BENCH_PERF_RECORDS: records of each ProducerPerformance run (5 × records). */
  perfRecords: number;
  /** LAB_BENCH_ONLY: sections to run, comma-separated (all). */
  only: Section[];
  /** LAB_BENCH_RUNTIMES: runtimes the e2e section runs the services on, side by side (node; e.g. node,bun,deno). */
  runtimes: Runtime[];
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return value;
}

export function benchSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const records = positiveInteger(env, 'LAB_BENCH_RECORDS', 100_000);
  const accounts = positiveInteger(env, 'LAB_BENCH_ACCOUNTS', 200);
  if (records < accounts) throw new Error(`LAB_BENCH_RECORDS (${records}) must be at least LAB_BENCH_ACCOUNTS (${accounts}): every account starts with its AccountOpened`);
  const rates = (env.LAB_BENCH_RATES ?? '100,500,1000').split(',').map((rate) => Number(rate.trim()));
  if (rates.some((rate) => !Number.isInteger(rate) || rate < 1)) throw new Error(`LAB_BENCH_RATES must be positive integers, got '${env.LAB_BENCH_RATES}'`);
  const only = (env.LAB_BENCH_ONLY ?? sections.join(',')).split(',').map((section) => section.trim()).filter(Boolean);
  const unknown = only.filter((section) => !(sections as readonly string[]).includes(section));
  if (unknown.length || only.length === 0) throw new Error(`LAB_BENCH_ONLY: unknown section(s) '${unknown.join(',')}'; choose from ${sections.join(', ')}`);
  return {
    records,
    repeats: positiveInteger(env, 'LAB_BENCH_REPEATS', 3),
    seconds: positiveInteger(env, 'LAB_BENCH_SECONDS', 15),
    warmupSeconds: positiveInteger(env, 'LAB_BENCH_WARMUP_SECONDS', 5),
    accounts,
    concurrency: positiveInteger(env, 'LAB_BENCH_CONCURRENCY', 32),
    rates,
    batchSize: positiveInteger(env, 'LAB_BENCH_BATCH', 500),
    perfRecords: positiveInteger(env, 'LAB_BENCH_PERF_RECORDS', records * 5),
    only: sections.filter((section) => only.includes(section)),
    runtimes: (env.LAB_BENCH_RUNTIMES ?? 'node').split(',').map((runtime) => chosenRuntime(runtime.trim())),
  };
}
