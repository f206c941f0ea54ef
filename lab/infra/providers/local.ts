/** `local` provider: the native cluster of lab/infra/local, reused when `lab up` left one running. */
import { downLocalCluster, reconcileCluster, upLocalCluster } from '../local/cluster.ts';
import type { AcquiredEnvironment, AcquireOptions } from './types.ts';

export async function acquireLocal(options: AcquireOptions): Promise<AcquiredEnvironment> {
  const { descriptor: started, reused } = await upLocalCluster({ ownership: 'ephemeral', ownerPid: options.ownerPid, log: options.log });
  options.log?.(reused ? `reusing the running local cluster (started ${started.startedAt})` : 'started a local cluster for this run');
  const descriptor = await reconcileCluster(options.requirements ?? {}, options.log).catch(async (error: unknown) => {
    if (!reused) await downLocalCluster(options.log); // ours to stop; a `lab up` cluster stays for a look
    throw error;
  });
  return {
    descriptor,
    // A cluster this run started is stopped with it; one that `lab up` started stays for the next run.
    release: async () => {
      if (!reused) await downLocalCluster(options.log);
    },
  };
}
