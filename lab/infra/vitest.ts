/** For suites: the run's environment, connected (`const env = labEnvironment();`), and a file's arena. */
import { afterAll, beforeAll, inject } from 'vitest';
import { createArena, type Arena } from './arena.ts';
import { connectEnvironment } from './connect.ts';
import type { EnvironmentDescriptor, LabEnvironment } from './environment.ts';
import { readDescriptor, reconcileCluster } from './local/cluster.ts';
import { defaultShape, shapeDifferences, wantedShape, type LabRequirements } from './requirements.ts';

/** A Kafka restart on a loaded 2-core machine (format, controller, three brokers) can take minutes. */
const fitTimeoutMs = 300_000;

/**
 * The run's environment, fitted to what the suite requires before its first test:
 *
 *   const env = labEnvironment();                                            // the default cluster
 *   const env = labEnvironment({ redisCluster: true });                      // + Redis Cluster
 *   const env = labEnvironment({ kafka: { brokers: { 'min.insync.replicas': '3' },
 *                                         controller: { 'unclean.leader.election.enable': 'true' } } });
 *   const env = labEnvironment({ kafka: { replicationLinks: true } });       // proxied replication
 *
 * A running cluster that differs (a previous file's requirements, or a `lab up` cluster) is restarted
 * or extended in a beforeAll hook (`reconcileCluster`): never reused as it is, and a suite requiring
 * nothing gets the default back. Client addresses do not change with it, so the object returned here
 * can be used at once; it is refreshed in place when the hook has run (Redis Cluster's endpoints).
 */
export function labEnvironment(requirements: LabRequirements = {}): LabEnvironment {
  const provided = inject('labEnvironment');
  const wanted = wantedShape(requirements); // throws at collection for a requirement the lab cannot meet
  const env = connectEnvironment(current(provided));
  beforeAll(async () => {
    const descriptor = await fitClusterTo(provided, requirements, wanted);
    Object.assign(env, connectEnvironment(descriptor));
  }, fitTimeoutMs);
  return env;
}

/** The descriptor as the run dir has it now (a previous file may have refitted the cluster). */
function current(provided: EnvironmentDescriptor): EnvironmentDescriptor {
  return provided.processControl?.kind === 'local' ? (readDescriptor() ?? provided) : provided;
}

async function fitClusterTo(provided: EnvironmentDescriptor, requirements: LabRequirements, wanted: ReturnType<typeof wantedShape>): Promise<EnvironmentDescriptor> {
  if (provided.processControl?.kind === 'local') return reconcileCluster(requirements, (line) => console.log(`[lab] ${line}`));
  // An external cluster is what it is: a suite that needs more than the default cannot run on it.
  const differences = shapeDifferences(defaultShape, wanted);
  const unmet = [...differences.kafka, ...differences.redisCluster];
  if (unmet.length > 0) throw new Error(`the ${provided.provider} provider cannot change the cluster, and this suite requires: ${unmet.join('; ')}`);
  return provided;
}

/**
 * One arena for a whole test file (the integration suites), the same the experiments take per arm:
 * filled in beforeAll, disposed in afterAll after the file's own after-hooks (Vitest runs them newest
 * first). Use it in hooks and tests only: it is empty until beforeAll ran.
 *
 *   const arena = fileArena(env, 'command');
 *   beforeAll(async () => void arena.own(await startService('command', { ...arena.config, mode: 'outbox' })));
 */
export function fileArena(env: LabEnvironment, name: string, partitions?: number, options?: Parameters<typeof createArena>[3]): Arena {
  const arena = {} as Arena;
  beforeAll(async () => void Object.assign(arena, await createArena(env, name, partitions, options)));
  afterAll(async () => arena.dispose?.());
  return arena;
}
