/**
 * Chooses the provider: LAB_PROVIDER=local|containers|external, else `external` when LAB_KAFKA_BROKERS
 * is set, `containers` when a Docker engine answers, `local` otherwise (the lab's own machines).
 */
import type { ProviderName } from '../environment.ts';
import { dockerEngineAnswers } from '../prerequisites.ts';
import { acquireContainers } from './containers.ts';
import { acquireExternal } from './external.ts';
import { acquireLocal } from './local.ts';
import type { AcquiredEnvironment, AcquireOptions } from './types.ts';

export type { AcquiredEnvironment, AcquireOptions } from './types.ts';

export function chooseProvider(env: NodeJS.ProcessEnv = process.env, docker: () => boolean = dockerEngineAnswers): ProviderName {
  const requested = env.LAB_PROVIDER;
  if (requested) {
    if (requested === 'local' || requested === 'containers' || requested === 'external') return requested;
    throw new Error(`LAB_PROVIDER='${requested}' is not a provider: use local, containers or external`);
  }
  if (env.LAB_KAFKA_BROKERS) return 'external';
  return docker() ? 'containers' : 'local';
}

export async function acquireEnvironment(options: AcquireOptions = {}): Promise<AcquiredEnvironment> {
  const provider = chooseProvider();
  switch (provider) {
    case 'local':
      return acquireLocal(options);
    case 'containers':
      return acquireContainers(options);
    case 'external':
      return acquireExternal(options);
  }
}
