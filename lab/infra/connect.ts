/** Descriptor (JSON) → live `LabEnvironment` with a Toxiproxy client and process control. */
import { Toxiproxy } from 'toxiproxy-node-client';
import type { EnvironmentDescriptor, LabEnvironment } from './environment.ts';
import { LocalProcessControl } from './local/process-control.ts';
import { Supervisor } from './local/supervisor.ts';
import path from 'node:path';

export function connectEnvironment(descriptor: EnvironmentDescriptor): LabEnvironment {
  const control = descriptor.processControl;
  // Both the local and the containers provider record their processes in the run dir's pid files; a
  // containers record names its container, and its faults go through the engine.
  const processes = control?.kind === 'local' ? new LocalProcessControl(new Supervisor(path.join(control.runDir, 'pids'))) : undefined;
  return {
    descriptor,
    brokers: descriptor.kafka.brokers.map((broker) => broker.address),
    ...(descriptor.toxiproxy ? { toxiproxy: new Toxiproxy(descriptor.toxiproxy.url) } : {}),
    proxies: {
      brokers: Object.fromEntries(descriptor.kafka.brokers.filter((b) => b.proxy).map((b) => [b.id, b.proxy!])),
      ...(descriptor.mysql.proxy ? { mysql: descriptor.mysql.proxy } : {}),
      ...(descriptor.redis.proxy ? { redis: descriptor.redis.proxy } : {}),
      ...(descriptor.schemaRegistry.proxy ? { registry: descriptor.schemaRegistry.proxy } : {}),
      replication: replicationProxies(descriptor),
    },
    ...(processes ? { processes } : {}),
  };
}

function replicationProxies(descriptor: EnvironmentDescriptor): Record<number, Record<number, string>> {
  const byFollower: Record<number, Record<number, string>> = {};
  for (const link of descriptor.kafka.replicationLinks ?? []) (byFollower[link.follower] ??= {})[link.leader] = link.proxy;
  return byFollower;
}
