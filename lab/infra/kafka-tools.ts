/**
 * Kafka's own command-line tools (the jars `npm run setup` installs for the local provider), run on this
 * machine against any cluster's brokers:
 *
 *   const { stdout } = await runKafkaTool('org.apache.kafka.tools.ProducerPerformance', ['--topic', t, …]);
 *
 * Provider-neutral on purpose: bench/ uses it instead of reaching into lab/infra/local (where the jars and
 * the Java lookup live), so a bench section does not depend on how the cluster was provided.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { javaBinary } from './local/java.ts';
import { kafkaLibs } from './local/kafka.ts';
import { nativeInfraDir } from './paths.ts';

const execFileAsync = promisify(execFile);

/** Runs `mainClass` from the installed Kafka jars with the lab's log4j2 configuration; resolves with its output. */
export async function runKafkaTool(mainClass: string, args: string[], options: { heapMb?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  const classpath = `${kafkaLibs()}/*`;
  const log4j = `-Dlog4j2.configurationFile=${path.join(nativeInfraDir, 'log4j2.properties')}`;
  return execFileAsync(javaBinary(), [`-Xmx${options.heapMb ?? 512}m`, '-cp', classpath, log4j, mainClass, ...args], { maxBuffer: 16 * 1024 * 1024 });
}
