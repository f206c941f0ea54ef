/**
 * 5. Kafka's own ProducerPerformance (org.apache.kafka.tools.ProducerPerformance from the installed
 * jars) on a fresh 6-partition topic, records of the bench events' mean encoded size, acks=all,
 * idempotent, linger.ms=5: what this cluster takes from the best client there is — the ceiling the
 * relay and the raw producer are read against. Local provider only (it needs the Kafka jars).
 */
import { createTopicsAndWait } from '../src/contract.ts';
import { createKafkaArena } from '../lab/infra/arena.ts';
import type { LabEnvironment } from '../lab/infra/environment.ts';
import { runKafkaTool } from '../lab/infra/kafka-tools.ts';
import { progress, repetitions } from './progress.ts';
import { benchPartitions } from './scope.ts';
import type { BenchSettings } from './settings.ts';
import { sample, type Heading, type Row, type Sample } from './table.ts';
import { benchAccounts, eventHistory, meanEncodedBytes } from './workload.ts';

/** records/sec from the tool's summary line: "N records sent, X records/sec (Y MB/sec), …". */
export function recordsPerSecond(summary: string): number {
  const match = /records sent, ([\d.]+) records\/sec/.exec(summary);
  if (!match) throw new Error(`ProducerPerformance printed no summary line: '${summary}'`);
  return Number(match[1]);
}

async function runOnce(env: LabEnvironment, records: number, recordSize: number): Promise<{ rate: Sample; summary: string }> {
  await using arena = await createKafkaArena(env, 'bench_perf'); // its topics removed when the run ends, whatever happened
  const topic = `${arena.id}.perf`;
  await createTopicsAndWait(arena.admin, [{ topic, numPartitions: benchPartitions }]);
  const { stdout } = await runKafkaTool('org.apache.kafka.tools.ProducerPerformance', [
    '--topic', topic, '--num-records', String(records), '--record-size', String(recordSize),
    '--throughput', '-1', '--producer-props', `bootstrap.servers=${env.brokers.join(',')}`, 'acks=all', 'enable.idempotence=true', 'linger.ms=5',
  ]);
  const summary = stdout.trim().split('\n').at(-1) ?? '';
  return { rate: sample(recordsPerSecond(summary)), summary };
}

export async function producerPerformance(env: LabEnvironment, settings: BenchSettings): Promise<Array<Row | Heading>> {
  if (env.descriptor.provider !== 'local') return [{ heading: '5. Kafka ProducerPerformance: skipped, it runs with the local provider only (installed Kafka jars)' }];
  const recordSize = Math.round(await meanEncodedBytes(eventHistory(Math.min(settings.records, 10_000), benchAccounts(settings.accounts))));
  const runs = await repetitions(settings.repeats, 'Kafka ProducerPerformance', async () => {
    const run = await runOnce(env, settings.perfRecords, recordSize);
    progress(`  ${run.summary}`);
    return run.rate;
  });
  return [
    { heading: `5. Kafka ProducerPerformance (the ceiling): ${settings.perfRecords.toLocaleString('en-US')} records of ${recordSize} B (the events' mean encoded size), acks=all, idempotent, linger.ms=5` },
    { name: '   records/s', format: 'rate', samples: runs },
  ];
}
