/**
 * The lab's containers, started and controlled through Testcontainers (testcontainers-node 11): a
 * server is a `GenericContainer` on the host network running its placed command line (placement.ts),
 * a one-shot step one that is waited for until it exits; kill, pause, unpause, stop and remove go
 * through the same runtime client (dockerode underneath).
 *
 *   const { id, pid } = await startServerContainer(placed);   // `placed` = placeInContainer(spec, …)
 *   await signalContainer(placed.container.name, 'SIGSTOP');  // pause through the engine instead
 *
 * Two Testcontainers defaults do not fit these machines, so they are overridden unless the user set them:
 * - Ryuk, its reaper, is an image pulled from Docker Hub, which no registry here serves
 *   (`TESTCONTAINERS_RYUK_DISABLED=true`): the lab's own reaper (labels.ts, the guard of a killed test
 *   run, `lab down`) removes its containers instead.
 * - Inside a container with the engine's socket (this machine has /.dockerenv) Testcontainers asks for
 *   the `bridge` network's gateway to find the host; dockerd runs with `--bridge=none` here (loopback only),
 *   so the host is named instead (`TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1`; every lab container uses the
 *   host's network, so that is where its ports are).
 * Testcontainers does not manage containers across processes (a test worker restarts a broker that
 * `lab up` started): the pid files of the supervisor do that, with the container's name as the handle.
 */
import { GenericContainer, getContainerRuntimeClient, Wait } from 'testcontainers';
import type { ProcessSpec } from '../local/supervisor.ts';
import { containerCommand } from './placement.ts';

process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';

/** A placed spec as a Testcontainers definition: host network, labels, run dir mounted at its own path. */
function definition(spec: ProcessSpec): GenericContainer {
  const { entrypoint, command } = containerCommand(spec);
  const container = spec.container!;
  let definition = new GenericContainer(container.image)
    .withName(container.name)
    .withNetworkMode('host')
    .withLabels(container.labels)
    .withBindMounts(container.mounts.map((mount) => ({ source: mount, target: mount })))
    .withEnvironment(spec.env ?? {})
    .withEntrypoint(entrypoint)
    .withCommand(command);
  if (spec.cwd) definition = definition.withWorkingDir(spec.cwd);
  return definition;
}

async function runtime() {
  return (await getContainerRuntimeClient()).container;
}

/** Removes the container of that name, running or not, if one exists (`docker rm --force --volumes`). */
export async function removeContainer(name: string): Promise<void> {
  const client = await runtime();
  await client.getById(name).remove({ force: true, v: true }).catch((error: unknown) => {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  });
}

/**
 * Starts a server (a placed spec) detached: its output appended to its log file by the container's
 * shell, which then `exec`s it, so the server is the container's pid 1 and the engine's signals reach it.
 * Readiness is the caller's check (the spec's port through Toxiproxy), not a Testcontainers wait
 * strategy: with host networking there is no mapped port to wait for.
 */
export async function startServerContainer(spec: ProcessSpec): Promise<{ id: string; pid: number }> {
  await removeContainer(spec.container!.name);
  const started = await definition(spec).withWaitStrategy(Wait.forListeningPorts()).start();
  const client = await runtime();
  const info = await client.inspect(client.getById(started.getId()));
  return { id: started.getId(), pid: info.State.Pid };
}

/**
 * Runs a one-shot step (a placed spec) to its end and returns its exit code; its output goes to its log.
 * Waited for with the engine's wait call rather than Testcontainers' one-shot strategy, which polls once
 * a second and removes a failed step's container before its exit code can be read.
 */
export async function runStepContainer(spec: ProcessSpec): Promise<{ code: number }> {
  await removeContainer(spec.container!.name);
  const started = await definition(spec).withWaitStrategy(Wait.forListeningPorts()).start();
  const client = await runtime();
  try {
    const { StatusCode } = (await client.getById(started.getId()).wait()) as { StatusCode: number };
    return { code: StatusCode };
  } finally {
    await removeContainer(spec.container!.name);
  }
}

/** Sends a signal to the container's main process through the engine (`docker kill --signal`). */
export async function signalContainer(name: string, signal: NodeJS.Signals): Promise<void> {
  const client = await runtime();
  await client.getById(name).kill({ signal });
}

export async function pauseContainerNow(name: string): Promise<void> {
  const client = await runtime();
  await client.getById(name).pause();
}

export async function unpauseContainer(name: string): Promise<void> {
  const client = await runtime();
  await client.getById(name).unpause();
}

/** `docker stop`: SIGTERM, SIGKILL after `graceSeconds`. */
export async function stopContainer(name: string, graceSeconds: number): Promise<void> {
  const client = await runtime();
  await client.stop(client.getById(name), { timeout: graceSeconds });
}
