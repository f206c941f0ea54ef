/**
 * `containers` provider: the local provider's cluster (same components, same command lines, same
 * 127.0.0.1 free ports, same readiness checks and Toxiproxy in front of every client link), each
 * process in a container of an image built here from lab/infra/containers/*.Dockerfile, with host
 * networking. Process faults go through the engine (docker kill / pause / unpause; restart = a new
 * container on the same data dir). Every container carries the checkout's label: the reaper on the
 * next start, the guard of a killed test run and `lab down` remove them.
 *
 * Testcontainers' Ryuk cannot be pulled on these machines (no registry answers): the lab's own guard
 * and label reaper do its job.
 */
import { downLocalCluster, reconcileCluster, upLocalCluster } from '../local/cluster.ts';
import type { AcquiredEnvironment, AcquireOptions } from './types.ts';

/**
 * Broker settings as the apache/kafka image reads them: KAFKA_ + upper case, dots as underscores.
 * docker-compose.yml (official images) is checked against the cluster defaults with it.
 */
export function kafkaEnv(settings: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(settings).map(([key, value]) => [`KAFKA_${key.toUpperCase().replaceAll('.', '_')}`, value]));
}

export async function acquireContainers(options: AcquireOptions): Promise<AcquiredEnvironment> {
  const { descriptor: started, reused } = await upLocalCluster({ provider: 'containers', ownership: 'ephemeral', ownerPid: options.ownerPid, log: options.log });
  options.log?.(reused ? `reusing the running containers cluster (started ${started.startedAt})` : 'started a containers cluster for this run');
  const descriptor = await reconcileCluster(options.requirements ?? {}, options.log).catch(async (error: unknown) => {
    if (!reused) await downLocalCluster(options.log); // ours to stop; a `lab up` cluster stays for a look
    throw error;
  });
  return {
    descriptor,
    release: async () => {
      if (!reused) await downLocalCluster(options.log);
    },
  };
}
