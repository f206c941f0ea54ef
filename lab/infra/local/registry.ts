/**
 * Apicurio Registry (Quarkus app distribution from Maven Central), in memory, used through its
 * Confluent-compatible API at /apis/ccompat/v7. Confluent's own registry is not on Maven Central; the
 * containers provider and docker-compose.yml use it.
 *
 * Apicurio 3.3 is compiled for Java 21, while Kafka runs on the machine's Java 17: `registryJava()`
 * finds a 21+ runtime (JAVA21_HOME, or the newest JDK under /usr/lib/jvm).
 */
import fs from 'node:fs';
import path from 'node:path';
import { installDirs, runPaths } from '../paths.ts';
import { versions } from '../versions.ts';
import { javaBinary, javaMajorVersion, jvmFlags } from './java.ts';
import type { ProcessSpec } from './supervisor.ts';

/** The ccompat base path; `registryUrl()` values always end with it. */
export const ccompatPath = '/apis/ccompat/v7';
export const registryMinJava = 21;

export function apicurioJar(): string {
  return path.join(installDirs.apicurio(versions.apicurio), 'quarkus-run.jar');
}

/** A java binary of version 21 or newer, or undefined. */
export function registryJava(): string | undefined {
  const candidates = [
    process.env.JAVA21_HOME && path.join(process.env.JAVA21_HOME, 'bin', 'java'),
    javaBinary(),
    ...(fs.existsSync('/usr/lib/jvm')
      ? fs
          .readdirSync('/usr/lib/jvm')
          .map((dir) => path.join('/usr/lib/jvm', dir, 'bin', 'java'))
          .filter((file) => fs.existsSync(file))
      : []),
  ].filter((candidate): candidate is string => Boolean(candidate));
  const found = candidates
    .map((java) => ({ java, version: javaMajorVersion(java) ?? 0 }))
    .filter(({ version }) => version >= registryMinJava)
    .sort((a, b) => b.version - a.version);
  return found[0]?.java;
}

export function registrySpec(port: number, managementPort: number, java: string): ProcessSpec {
  return {
    name: 'registry',
    command: java,
    args: [
      ...jvmFlags({ heapMb: 384 }),
      `-Dquarkus.http.port=${port}`,
      '-Dquarkus.http.host=127.0.0.1',
      // Quarkus' management interface (/health, /metrics) is fixed on at build time, so
      // -Dquarkus.management.enabled=false is ignored and it binds *:9000: reachable from the network,
      // and a second cluster on the machine finds 9000 taken and its registry dies at once. Its host and
      // port are runtime properties: loopback, and a free port like every other listener of the lab.
      '-Dquarkus.management.host=127.0.0.1',
      `-Dquarkus.management.port=${managementPort}`,
      '-Dquarkus.log.level=WARN',
      '-Dapicurio.rest.deletion.artifact.enabled=true',
      '-Dapicurio.rest.deletion.artifact-version.enabled=true',
      '-Dapicurio.rest.deletion.group.enabled=true',
      '-jar',
      apicurioJar(),
    ],
    cwd: installDirs.apicurio(versions.apicurio),
    logFile: runPaths.log('registry'),
  };
}

/**
 * Sets the registry-wide compatibility level. @kafkajs/confluent-schema-registry compares a subject's
 * level with the one it registers with, so the lab sets it globally and registers with the same level.
 */
export async function setGlobalCompatibility(url: string, level: string): Promise<void> {
  const response = await fetch(`${url}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: level }),
  });
  if (!response.ok) throw new Error(`registry refused global compatibility ${level}: HTTP ${response.status} ${await response.text()}`);
}

export async function registryAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/config`, { signal: AbortSignal.timeout(1000) });
    return response.ok;
  } catch {
    return false;
  }
}
