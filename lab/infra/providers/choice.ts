/**
 * Which provider a run uses, and why (`npx lab status` prints the reason). Pure: the probes are passed
 * in, so the decision is unit-tested without an engine.
 *
 *   LAB_PROVIDER=local|containers|external   that one
 *   LAB_KAFKA_BROKERS set                    external
 *   a Docker engine answers, and the lab's images are built or can be built here
 *                                            containers
 *   otherwise                                local
 *
 * CI runs the whole suite on the default (containers on these machines) and E-000 + E-001 once more on
 * local, so both providers run on every landing (.ci/run).
 */
import type { ProviderName } from '../environment.ts';

export type ImagesState = { usable: true; how: 'built' | 'buildable' } | { usable: false; why: string };

export interface ProviderProbes {
  engineAnswers: () => boolean;
  images: () => ImagesState;
}

export interface ProviderChoice {
  provider: ProviderName;
  reason: string;
}

const providers: ProviderName[] = ['local', 'containers', 'external'];

export function decideProvider(env: NodeJS.ProcessEnv, probes: ProviderProbes): ProviderChoice {
  const requested = env.LAB_PROVIDER;
  if (requested) {
    if ((providers as string[]).includes(requested)) return { provider: requested as ProviderName, reason: `LAB_PROVIDER=${requested}` };
    throw new Error(`LAB_PROVIDER='${requested}' is not a provider: use local, containers or external`);
  }
  if (env.LAB_KAFKA_BROKERS) return { provider: 'external', reason: 'LAB_KAFKA_BROKERS is set' };
  if (!probes.engineAnswers()) return { provider: 'local', reason: 'no Docker engine answers (`npm run setup` as root starts one)' };
  const images = probes.images();
  if (!images.usable) return { provider: 'local', reason: `a Docker engine answers but the images cannot be built: ${images.why}` };
  return { provider: 'containers', reason: images.how === 'built' ? 'a Docker engine answers and the images are built' : 'a Docker engine answers and the images can be built here' };
}
