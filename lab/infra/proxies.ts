/**
 * The Toxiproxy proxies the lab puts in front of every client link, named the same by every provider
 * so faults are written once: `broker-1`, `broker-2`, …, `mysql`, `redis`, `registry`.
 */
import type { ICreateProxyBody } from 'toxiproxy-node-client';

export const proxyName = {
  broker: (id: number) => `broker-${id}`,
  mysql: 'mysql',
  redis: 'redis',
  registry: 'registry',
} as const;

interface Link {
  listen: string;
  upstream: string;
}

export function proxyPlan(links: {
  brokers: Array<{ id: number } & Link>;
  mysql: Link;
  redis: Link;
  registry: Link;
}): ICreateProxyBody[] {
  return [
    ...links.brokers.map(({ id, listen, upstream }) => ({ name: proxyName.broker(id), listen, upstream, enabled: true })),
    { name: proxyName.mysql, ...links.mysql, enabled: true },
    { name: proxyName.redis, ...links.redis, enabled: true },
    { name: proxyName.registry, ...links.registry, enabled: true },
  ];
}
