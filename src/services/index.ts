/**
 * The services by name, for `npx lab service <name>` (each as its own OS process, so the harness can
 * SIGKILL it) and for the harness's in-process use. Each module exports `start(config)`.
 */
import type { RunningService } from './service.ts';

type Starter = (config: never) => Promise<RunningService>;

export const serviceStarters: Record<string, () => Promise<Starter>> = {
  command: async () => (await import('./command/index.ts')).startCommandService as Starter,
  relay: async () => (await import('./relay/index.ts')).startOutboxRelay as Starter,
  consumer: async () => (await import('./consumer/index.ts')).startConsumerService as Starter,
  query: async () => (await import('./query/index.ts')).startQueryService as Starter,
  replay: async () => (await import('./replay/index.ts')).startReplayWorker as Starter,
  'notification-gateway': async () => (await import('./notification-gateway/index.ts')).startNotificationGateway as Starter,
};

export type ServiceName = keyof typeof serviceStarters;
