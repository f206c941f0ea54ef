/**
 * `external` provider: endpoints of a cluster the lab does not own (a staging cluster, or the
 * docker-compose stack), read from the environment:
 *
 *   LAB_KAFKA_BROKERS        host:port,host:port,…   (as clients see them)
 *   LAB_SCHEMA_REGISTRY_URL  http://host:port         (Confluent API base)
 *   LAB_MYSQL_URL            mysql://user@host:port   (password in LAB_MYSQL_PASSWORD)
 *   LAB_REDIS_URL            redis://host:port        (password in LAB_REDIS_PASSWORD, optional)
 *   LAB_TOXIPROXY_URL        http://host:port         (optional; proxies named broker-<id>, mysql, redis, registry)
 *   LAB_NAME_PREFIX          prefix of every topic, database and key the lab creates (default lab_ext)
 *
 * Unset variables fall back to docker-compose.yml's published ports. The lab never starts, stops or
 * signals anything here, and only creates and deletes its own prefixed resources.
 */
import { Kafka, logLevel } from 'kafkajs';
import type { EnvironmentDescriptor } from '../environment.ts';
import { proxyName } from '../proxies.ts';
import { composeEndpoints } from './compose-endpoints.ts';
import type { AcquiredEnvironment, AcquireOptions } from './types.ts';

function env(name: string, fallback: string): string {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

export async function acquireExternal(options: AcquireOptions): Promise<AcquiredEnvironment> {
  const addresses = env('LAB_KAFKA_BROKERS', composeEndpoints.kafkaBrokers).split(',').map((s) => s.trim()).filter(Boolean);
  const mysqlUrl = new URL(env('LAB_MYSQL_URL', composeEndpoints.mysqlUrl));
  const redisUrl = new URL(env('LAB_REDIS_URL', composeEndpoints.redisUrl));
  const toxiproxyUrl = process.env.LAB_TOXIPROXY_URL ?? (process.env.LAB_KAFKA_BROKERS ? undefined : composeEndpoints.toxiproxyUrl);

  // Node ids come from the cluster itself: experiments name brokers by id (`broker-2`).
  const kafka = new Kafka({ clientId: 'lab-external', brokers: addresses, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const cluster = await admin.describeCluster().finally(() => admin.disconnect());
  const brokers = cluster.brokers
    .map((broker) => ({ id: broker.nodeId, address: `${broker.host}:${broker.port}`, ...(toxiproxyUrl ? { proxy: proxyName.broker(broker.nodeId) } : {}) }))
    .sort((a, b) => a.id - b.id);

  const descriptor: EnvironmentDescriptor = {
    provider: 'external',
    ownership: 'external',
    kafka: { brokers },
    schemaRegistry: { url: env('LAB_SCHEMA_REGISTRY_URL', composeEndpoints.schemaRegistryUrl), ...(toxiproxyUrl ? { proxy: proxyName.registry } : {}) },
    mysql: {
      host: mysqlUrl.hostname,
      port: Number(mysqlUrl.port || 3306),
      user: decodeURIComponent(mysqlUrl.username || 'root'),
      password: process.env.LAB_MYSQL_PASSWORD ?? decodeURIComponent(mysqlUrl.password) ?? '',
      ...(toxiproxyUrl ? { proxy: proxyName.mysql } : {}),
    },
    redis: {
      host: redisUrl.hostname,
      port: Number(redisUrl.port || 6379),
      ...(process.env.LAB_REDIS_PASSWORD || redisUrl.password ? { password: process.env.LAB_REDIS_PASSWORD ?? decodeURIComponent(redisUrl.password) } : {}),
      ...(toxiproxyUrl ? { proxy: proxyName.redis } : {}),
    },
    ...(toxiproxyUrl ? { toxiproxy: { url: toxiproxyUrl } } : {}),
    namePrefix: env('LAB_NAME_PREFIX', 'lab_ext'),
    startedAt: new Date().toISOString(),
  };
  options.log?.(`using the external cluster at ${addresses.join(',')}`);
  return { descriptor, release: async () => undefined };
}
