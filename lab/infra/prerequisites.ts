/**
 * What the native infrastructure needs, where it is found, and for anything missing one line naming
 * the command that installs it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { installDirs } from './paths.ts';
import { versions } from './versions.ts';
import { javaMajorVersion } from './local/java.ts';
import { jmxAgentJar, kafkaLibs } from './local/kafka.ts';
import { observabilityBinaries, observabilityPackages, type ObservabilityTools } from '../observability/stack.ts';
import { mariadbBinaries } from './local/mariadb.ts';
import { redisBinaries } from './local/redis.ts';
import { redisCliBinaries } from './local/redis-cluster.ts';
import { apicurioJar, registryJava, registryMinJava } from './local/registry.ts';
import { toxiproxyBinary } from './local/toxiproxy.ts';

export class MissingPrerequisiteError extends Error {
  override name = 'MissingPrerequisiteError';
}

/** First candidate that is an executable path or a command on PATH. */
export function which(candidates: string[]): string | undefined {
  for (const candidate of candidates) {
    if (candidate.includes('/')) {
      if (fs.existsSync(candidate)) return candidate;
      continue;
    }
    const found = (process.env.PATH ?? '')
      .split(path.delimiter)
      .concat(['/usr/sbin', '/sbin'])
      .map((dir) => path.join(dir, candidate))
      .find((file) => {
        try {
          fs.accessSync(file, fs.constants.X_OK);
          return true;
        } catch {
          return false;
        }
      });
    if (found) return found;
  }
  return undefined;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export const aptInstall = (packages: string) =>
  isRoot() ? `apt-get update && apt-get install -y ${packages}` : `sudo apt-get update && sudo apt-get install -y ${packages}`;

/** Java 17+ for the brokers. */
export function requireJava17(): void {
  const major = javaMajorVersion();
  if (major === undefined) throw new MissingPrerequisiteError(`java not found: install Java 17+ (${aptInstall('openjdk-17-jre-headless')})`);
  if (major < 17) throw new MissingPrerequisiteError(`java ${major} is too old, Kafka ${versions.kafka} needs 17+: ${aptInstall('openjdk-17-jre-headless')} or set JAVA_HOME`);
}

export function requireCommand(name: string, candidates: string[], fix: string): string {
  const found = which(candidates);
  if (!found) throw new MissingPrerequisiteError(`${name} not found: ${fix}`);
  return found;
}

/** Prometheus, Alertmanager and the two exporters from Debian's packages (`npm run setup` installs them). */
export function findObservabilityTools(): ObservabilityTools {
  const missing = observabilityPackages.filter((_, index) => !which(Object.values(observabilityBinaries)[index]!));
  if (missing.length) throw new MissingPrerequisiteError(`${missing.join(', ')} not installed: ${aptInstall(missing.join(' '))} (or \`npm run setup\`)`);
  if (!fs.existsSync(jmxAgentJar())) throw new MissingPrerequisiteError(`the Prometheus JMX exporter agent ${versions.jmxExporter} is not installed at ${jmxAgentJar()}: run \`npm run setup\``);
  return Object.fromEntries(Object.entries(observabilityBinaries).map(([key, candidates]) => [key, which(candidates)!])) as ObservabilityTools;
}

/** Everything `lab up` runs; throws one clear line for the first missing piece. */
export function findInstalledPrerequisites() {
  requireJava17();
  const setup = 'run `npm run setup`';
  if (!fs.existsSync(path.join(kafkaLibs(), `kafka_2.13-${versions.kafka}.jar`))) throw new MissingPrerequisiteError(`Kafka ${versions.kafka} is not installed in ${installDirs.kafka(versions.kafka)}: ${setup}`);
  if (!fs.existsSync(apicurioJar())) throw new MissingPrerequisiteError(`Apicurio Registry ${versions.apicurio} is not installed: ${setup}`);
  if (!fs.existsSync(toxiproxyBinary())) throw new MissingPrerequisiteError(`Toxiproxy is not installed at ${toxiproxyBinary()}: ${setup}`);
  const java21 = registryJava();
  if (!java21) throw new MissingPrerequisiteError(`the schema registry (Apicurio ${versions.apicurio}) needs Java ${registryMinJava}+: install a JDK 21+ under /usr/lib/jvm or set JAVA21_HOME`);
  return {
    mariadbd: requireCommand('mariadbd', mariadbBinaries.server, aptInstall('mariadb-server')),
    mariadbInstallDb: requireCommand('mariadb-install-db', mariadbBinaries.installDb, aptInstall('mariadb-server')),
    mariadbClient: requireCommand('mariadb client', mariadbBinaries.client, aptInstall('mariadb-client')),
    redisServer: requireCommand('redis-server', redisBinaries, aptInstall('redis-server')),
    redisCli: requireCommand('redis-cli', redisCliBinaries, aptInstall('redis-tools')),
    registryJava: java21,
    apicurioVersion: versions.apicurio,
  };
}
