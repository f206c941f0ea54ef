/** Chooses the provider (see choice.ts) and acquires its environment. */
import { engineAnswers } from '../containers/engine.ts';
import { imagesState } from '../containers/images.ts';
import type { ProviderName } from '../environment.ts';
import { isRoot, which } from '../prerequisites.ts';
import { decideProvider, type ProviderChoice, type ProviderProbes } from './choice.ts';
import { acquireContainers } from './containers.ts';
import { acquireExternal } from './external.ts';
import { acquireLocal } from './local.ts';
import type { AcquiredEnvironment, AcquireOptions } from './types.ts';

export type { AcquiredEnvironment, AcquireOptions } from './types.ts';

/** This machine's answers: an engine, and the images built or buildable (debootstrap needs root). */
export const machineProbes: ProviderProbes = {
  engineAnswers,
  images: () => imagesState(() => isRoot() && which(['debootstrap', '/usr/sbin/debootstrap']) !== undefined),
};

export function explainProvider(env: NodeJS.ProcessEnv = process.env, probes: ProviderProbes = machineProbes): ProviderChoice {
  return decideProvider(env, probes);
}

export function chooseProvider(env: NodeJS.ProcessEnv = process.env, probes: ProviderProbes = machineProbes): ProviderName {
  return decideProvider(env, probes).provider;
}

export async function acquireEnvironment(options: AcquireOptions = {}): Promise<AcquiredEnvironment> {
  const { provider, reason } = explainProvider();
  options.log?.(`provider ${provider} (${reason})`);
  switch (provider) {
    case 'local':
      return acquireLocal(options);
    case 'containers':
      return acquireContainers(options);
    case 'external':
      return acquireExternal(options);
  }
}
