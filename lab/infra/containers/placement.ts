/**
 * How a component's process runs in a container: the local provider's command line, unchanged except
 * for where installed files live in the image (Kafka's jars, Apicurio, Toxiproxy, java), started with
 * host networking so it binds the same 127.0.0.1 port it would natively. Pure: unit-tested.
 *
 * The run dir (.lab/run: data, config, logs) is bind-mounted at its own path, so config files, data
 * dirs and log files keep the paths the command line names, and `lab logs` reads the same files.
 */
import path from 'node:path';
import type { ProcessSpec } from '../local/supervisor.ts';

export interface ContainerPlacement {
  image: string;
  /** Container name: unique per checkout and process (`lab-<checkout hash>-broker-1`). */
  name: string;
  labels: Record<string, string>;
  /** Host directories mounted at the same path inside the container. */
  mounts: string[];
}

/** Host path prefix → the same file's path in the image. */
export type PathMap = Array<[host: string, image: string]>;

/** The local spec with install paths rewritten to the image's and the container it runs in. */
export function placeInContainer(spec: ProcessSpec, placement: ContainerPlacement, paths: PathMap): ProcessSpec {
  const rewrite = (value: string) => paths.reduce((text, [host, image]) => text.split(host).join(image), value);
  // Every java the host would use (Java 17 for Kafka, a 21+ JDK for the registry) is the image's JDK 21.
  const command = path.basename(spec.command) === 'java' ? 'java' : rewrite(spec.command);
  return {
    ...spec,
    command,
    args: spec.args.map(rewrite),
    ...(spec.cwd ? { cwd: rewrite(spec.cwd) } : {}),
    container: placement,
  };
}

/**
 * What a placed spec's container runs: a shell that appends the output to the spec's log file, then
 * `exec`s the command line, so the server is the container's pid 1 (the engine's kill, stop and pause
 * reach it directly) and `lab logs` reads the same file as for a native process. runtime.ts starts it.
 */
export function containerCommand(spec: ProcessSpec): { entrypoint: string[]; command: string[] } {
  if (!spec.container) throw new Error(`${spec.name} is not placed in a container`);
  return { entrypoint: ['/bin/sh'], command: ['-c', 'exec "$@" >>"$0" 2>&1', spec.logFile, spec.command, ...spec.args] };
}
