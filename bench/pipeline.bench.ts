/**
 * `npm run bench`: the pipeline's throughput and latency, each service measured side by side with a bare
 * client doing the same work, in one run on one cluster. Uses a running `npx lab up` cluster or starts
 * one for the run (and stops it after).
 *
 * How to read the table (stdout; progress goes to stderr):
 *   - every figure is the MEDIAN of LAB_BENCH_REPEATS repetitions (default 3); each repetition is listed
 *     after it as `value @ load`, the machine's 1-minute load average (os.loadavg) when it was taken.
 *     This machine has 2 cores and is shared: at load 10 a rate is not comparable with one at load 2,
 *     compare the ratios, which were measured side by side under the same load.
 *   - ratios are "service / bare client on the same work", computed per repetition (then the median),
 *     with the target and "met" / "MISSED" next to them.
 *   1 relay vs raw producer       bench/relay.ts      3 command-service vs bare SQL   bench/command.ts
 *   2 consumer vs raw consumer    bench/consumer.ts   4 end-to-end latency by rate    bench/e2e.ts
 *   5 Kafka ProducerPerformance, the cluster's ceiling for records of the same size   bench/producer-perf.ts
 *   Each module's header says exactly what its timed section includes and excludes.
 *
 * Knobs (bench/settings.ts): LAB_BENCH_RECORDS (100000), LAB_BENCH_REPEATS (3), LAB_BENCH_SECONDS (15),
 * LAB_BENCH_WARMUP_SECONDS (5), LAB_BENCH_ACCOUNTS (200), LAB_BENCH_CONCURRENCY (32),
 * LAB_BENCH_RATES (100,500,1000), LAB_BENCH_BATCH (500), LAB_BENCH_PERF_RECORDS (5 × records),
 * LAB_BENCH_ONLY (relay,consumer,command,e2e,perf), LAB_BENCH_RUNTIMES (node; the e2e section's services
 * on each runtime named, side by side, with ratios to the first), e.g.
 *   LAB_BENCH_ONLY=relay LAB_BENCH_RECORDS=20000 npm run bench
 *   LAB_BENCH_ONLY=e2e LAB_BENCH_RUNTIMES=node,bun,deno npm run bench
 */
import os from 'node:os';
import { connectEnvironment } from '../lab/infra/connect.ts';
import type { LabEnvironment } from '../lab/infra/environment.ts';
import { acquireEnvironment } from '../lab/infra/providers/index.ts';
import { commandServiceVersusBareSql } from './command.ts';
import { consumerVersusRawConsumer } from './consumer.ts';
import { endToEndLatency } from './e2e.ts';
import { clusterResidentMemory } from './memory.ts';
import { producerPerformance } from './producer-perf.ts';
import { progress } from './progress.ts';
import { relayVersusRawProducer } from './relay.ts';
import { benchSettings, type BenchSettings, type Section } from './settings.ts';
import { renderTable, type Heading, type Row } from './table.ts';

const measurements: Record<Section, (env: LabEnvironment, settings: BenchSettings) => Promise<Array<Row | Heading>>> = {
  relay: relayVersusRawProducer,
  consumer: consumerVersusRawConsumer,
  command: commandServiceVersusBareSql,
  e2e: endToEndLatency,
  perf: producerPerformance,
};

// The services log with pino to stdout, where the table goes; their warnings (a rebalance, a retried
// coordinator load) are not results. Errors still print; LAB_LOG_LEVEL=warn brings the rest back.
process.env.LAB_LOG_LEVEL ??= 'error';

const settings = benchSettings();
const started = performance.now();
const lines: Array<Row | Heading> = [];
let failed = false;
const { descriptor, release } = await acquireEnvironment({ ownerPid: process.pid, log: (line) => console.error(`[lab] ${line}`) });
try {
  const env = connectEnvironment(descriptor);
  const memory = clusterResidentMemory(env);
  for (const section of settings.only) {
    progress(`section ${section}`);
    try {
      lines.push(...(await measurements[section](env, settings)));
    } catch (error) {
      // One broken section must not throw away the minutes the others took: report it, go on, exit 1.
      failed = true;
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      console.error(`[bench] section ${section} failed: ${message}`);
      lines.push({ heading: `${section}: FAILED: ${error instanceof Error ? error.message : String(error)}` });
    }
  }
  const minutes = (performance.now() - started) / 60_000;
  console.log('');
  console.log(`pipeline benchmark, ${descriptor.provider} cluster (${env.brokers.length} brokers, every link through Toxiproxy, no toxics), ${os.cpus().length} cores`);
  console.log(`sizes: ${settings.records.toLocaleString('en-US')} records, ${settings.repeats} repetitions (median shown), ${settings.accounts} accounts; sections: ${settings.only.join(', ')}`);
  console.log('');
  console.log(renderTable(lines));
  console.log('');
  if (memory) console.log(`idle RSS before the run, MiB: ${memory}`);
  console.log(`run time ${minutes.toFixed(1)} min; load average at the end ${os.loadavg().map((load) => load.toFixed(1)).join(' / ')} (1 / 5 / 15 min)`);
} finally {
  await release();
}
process.exit(failed ? 1 : 0);
