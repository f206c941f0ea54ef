/**
 * Kafka's own transaction tool (kafka-transactions.sh, org.apache.kafka.tools.TransactionsCommand) run
 * against the lab's brokers, its tables parsed: what an operator sees and does about an open transaction.
 *
 *   await describeProducers(env, topic, 0)   // [{ ProducerId: '1002', …, CurrentTransactionStartOffset: '15' }]
 *   await findHanging(env, topic)            // rows of transactions the coordinator no longer tracks
 *   await abortTransaction(env, topic, 0, 15) // writes an abort marker for the transaction starting at 15
 */
import type { LabEnvironment } from '../infra/environment.ts';
import { runKafkaTool } from '../infra/kafka-tools.ts';

const tool = 'org.apache.kafka.tools.TransactionsCommand';

/**
 * The tab-separated table the tool prints after its log lines: the header is the first line starting with
 * `firstColumn`, every following non-empty line a row (cells trimmed). No header: no rows.
 */
export function parseTable(output: string, firstColumn: string): Array<Record<string, string>> {
  const lines = output.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`${firstColumn}\t`));
  if (start < 0) return [];
  const header = lines[start]!.split('\t').map((c) => c.trim()).filter(Boolean);
  return lines.slice(start + 1).filter((line) => line.trim()).map((line) => {
    const cells = line.split('\t').map((c) => c.trim());
    return Object.fromEntries(header.map((name, i) => [name, cells[i] ?? '']));
  });
}

async function run(env: LabEnvironment, args: string[]): Promise<string> {
  const { stdout } = await runKafkaTool(tool, ['--bootstrap-server', env.brokers.join(','), ...args]);
  return stdout;
}

/** `describe-producers`: the partition's active producers, with the start offset of an open transaction (-1: none). */
export async function describeProducers(env: LabEnvironment, topic: string, partition: number) {
  return parseTable(await run(env, ['describe-producers', '--topic', topic, '--partition', String(partition)]), 'ProducerId');
}

/**
 * `find-hanging`: transactions open on the topic's partitions for longer than `maxTimeoutMinutes` that
 * the coordinator does not list as ongoing on that partition (a transaction it still tracks is not hanging).
 */
export async function findHanging(env: LabEnvironment, topic: string, maxTimeoutMinutes = 0) {
  return parseTable(await run(env, ['find-hanging', '--topic', topic, '--max-transaction-timeout', String(maxTimeoutMinutes)]), 'Topic');
}

/** `abort`: the partition leader writes an abort marker for the transaction that starts at `startOffset`. */
export async function abortTransaction(env: LabEnvironment, topic: string, partition: number, startOffset: number): Promise<void> {
  await run(env, ['abort', '--topic', topic, '--partition', String(partition), '--start-offset', String(startOffset)]);
}
