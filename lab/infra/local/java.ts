/** Finds a Java 17+ runtime and builds JVM command lines with bounded memory. */
import { spawnSync } from 'node:child_process';

export function javaBinary(): string {
  return process.env.JAVA_HOME ? `${process.env.JAVA_HOME}/bin/java` : 'java';
}

/** Major version of a java binary (`java -version` prints to stderr), or undefined when none runs. */
export function javaMajorVersion(java = javaBinary()): number | undefined {
  const result = spawnSync(java, ['-version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return undefined;
  return parseJavaVersion(`${result.stdout}${result.stderr}`);
}

export function parseJavaVersion(text: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!match) return undefined;
  const major = Number(match[1]);
  return major === 1 ? Number(match[2]) : major;
}

/**
 * Common JVM flags: bounded heap and metaspace (the idle cluster must fit a small machine), fail fast
 * on OOM instead of limping, short GC pauses so a GC is not mistaken for a fault in an experiment.
 */
export function jvmFlags({ heapMb, minHeapMb = Math.min(128, heapMb) }: { heapMb: number; minHeapMb?: number }): string[] {
  return [
    `-Xms${minHeapMb}m`,
    `-Xmx${heapMb}m`,
    '-XX:MaxMetaspaceSize=192m',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
  ];
}
