/**
 * Kafka's own console consumer (`kafka-console-consumer.sh`, ConsoleConsumer) as a second, independent
 * reader of a topic: it reads from the beginning until no record came for `idleMs` and reports how many
 * it processed. Shares no code with kafkajs, so a count it confirms is not an artefact of the Node client.
 */
import type { LabEnvironment } from '../infra/environment.ts';
import { runKafkaTool } from '../infra/kafka-tools.ts';

/** "Processed a total of N messages" (ConsoleConsumer's last line, on stderr), or undefined. */
export function processedTotal(output: string): number | undefined {
  const match = /Processed a total of (\d+) messages?/.exec(output);
  return match ? Number(match[1]) : undefined;
}

/** How many records ConsoleConsumer reads from `topic` (group `group`, read_uncommitted, from the beginning). */
export async function consoleConsumerCount(env: LabEnvironment, topic: string, group: string, idleMs = 10_000): Promise<number> {
  const args = ['--bootstrap-server', env.brokers.join(','), '--topic', topic, '--group', group, '--from-beginning', '--timeout-ms', String(idleMs)];
  // It ends with a TimeoutException once idle, which some versions turn into a non-zero exit: the count is printed either way.
  const { stdout, stderr } = await runKafkaTool('org.apache.kafka.tools.consumer.ConsoleConsumer', args, { heapMb: 128 }).catch((error: { stdout?: string; stderr?: string }) => ({ stdout: error.stdout ?? '', stderr: error.stderr ?? String(error) }));
  const total = processedTotal(`${stderr}\n${stdout}`);
  if (total === undefined) throw new Error(`ConsoleConsumer printed no total for ${topic}:\n${stderr.slice(-2000)}`);
  return total;
}
