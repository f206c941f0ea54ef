/**
 * The services by name, for `npx lab service <name>` (each as its own OS process, so the harness can
 * SIGKILL it) and for the harness's in-process use (`startService`). Each module exports `start(config)`;
 * `ServiceConfigs` ties each name to its config type, so `startService('consumer', { … })` and the
 * harness's `startServiceProcess('consumer', { … })` reject a key the consumer does not know.
 * The modules are loaded on first use: importing this file (or src/contract.ts) does not load fastify,
 * kafkajs, mysql2 and ioredis into a process that only needs names and types.
 */
import type { BackfillConfig } from './backfill/index.ts';
import type { CommandServiceConfig } from './command/index.ts';
import type { ConsumerConfig } from './consumer/config.ts';
import type { NotificationGatewayConfig } from './notification-gateway/index.ts';
import type { QueryServiceConfig } from './query/index.ts';
import type { RelayConfig } from './relay/index.ts';
import type { ReplayWorkerConfig } from './replay/index.ts';
import type { RunningService } from './service.ts';

/** Each service's name and the config its `start(config)` takes (in process, or as LAB_SERVICE_CONFIG JSON). */
export interface ServiceConfigs {
  command: CommandServiceConfig;
  relay: RelayConfig;
  consumer: ConsumerConfig;
  query: QueryServiceConfig;
  replay: ReplayWorkerConfig;
  'notification-gateway': NotificationGatewayConfig;
  backfill: BackfillConfig;
}

export type ServiceName = keyof ServiceConfigs;

type Starters = { [N in ServiceName]: () => Promise<(config: ServiceConfigs[N]) => Promise<RunningService>> };

export const serviceStarters: Starters = {
  command: async () => (await import('./command/index.ts')).startCommandService,
  relay: async () => (await import('./relay/index.ts')).startOutboxRelay,
  consumer: async () => (await import('./consumer/index.ts')).startConsumerService,
  query: async () => (await import('./query/index.ts')).startQueryService,
  replay: async () => (await import('./replay/index.ts')).startReplayWorker,
  'notification-gateway': async () => (await import('./notification-gateway/index.ts')).startNotificationGateway,
  backfill: async () => (await import('./backfill/index.ts')).startBackfill,
};

export const serviceNames = Object.keys(serviceStarters) as ServiceName[];

export function isServiceName(name: string): name is ServiceName {
  return Object.hasOwn(serviceStarters, name);
}

/** Starts a service in this process (stop it with `stop()`); the config type follows from the name. */
export async function startService<N extends ServiceName>(name: N, config: ServiceConfigs[N]): Promise<RunningService> {
  const start = await (serviceStarters[name] as () => Promise<(config: ServiceConfigs[N]) => Promise<RunningService>>)();
  return start(config);
}
