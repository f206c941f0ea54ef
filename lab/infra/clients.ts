/**
 * Clients for the lab's components, configured from the environment. Experiments build their own
 * producers/consumers from `kafka()`; these helpers only fix what every client of the lab shares.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import net from 'node:net';
import { Kafka, logLevel, type ISocketFactory, type KafkaConfig } from 'kafkajs';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import mysql from 'mysql2/promise';
import type { LabEnvironment } from './environment.ts';

// kafkajs warns on every producer about a partitioner change from 2021; the lab uses the default.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

export function kafka(env: LabEnvironment, clientId: string, config: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId,
    brokers: env.brokers,
    logLevel: process.env.LAB_KAFKA_LOG === 'debug' ? logLevel.DEBUG : logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    ...config,
  });
}

/**
 * A Kafka client whose connections bypass Toxiproxy: every broker address (a proxy's listen address)
 * is dialled at the proxy's upstream instead. For observers and admin work that must not share the
 * link faults an experiment injects (a leader move ordered while requests to one broker are held).
 * kafkajs's socketFactory is the seam: metadata keeps advertising the proxies, only the dial changes.
 */
export async function directKafka(env: LabEnvironment, clientId: string, config: Partial<KafkaConfig> = {}): Promise<Kafka> {
  if (!env.toxiproxy) return kafka(env, clientId, config);
  const upstreamOf = new Map<string, string>();
  for (const proxy of Object.values(await env.toxiproxy.getAll())) upstreamOf.set(proxy.listen.replace(/^localhost:/, '127.0.0.1:'), proxy.upstream);
  const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    const [directHost = host, directPort = String(port)] = (upstreamOf.get(`${host}:${port}`) ?? `${host}:${port}`).split(':');
    const socket = net.connect({ host: directHost, port: Number(directPort) }, onConnect);
    socket.setKeepAlive(true, 60_000);
    return socket;
  };
  return kafka(env, clientId, { socketFactory, ...config });
}

export function mysqlPool(env: LabEnvironment, database?: string, options: mysql.PoolOptions = {}): mysql.Pool {
  const { host, port, user, password } = env.descriptor.mysql;
  return mysql.createPool({ host, port, user, password, ...(database ? { database } : {}), connectionLimit: 10, connectTimeout: 5000, ...options });
}

export function redis(env: LabEnvironment, options: RedisOptions = {}): Redis {
  const { host, port, password } = env.descriptor.redis;
  return new Redis({ host, port, ...(password ? { password } : {}), maxRetriesPerRequest: 2, ...options });
}

/** A Redis Cluster client (the suite required `redisCluster: true`); it discovers all six nodes from these. */
export function redisCluster(env: LabEnvironment, options: ClusterOptions = {}): Cluster {
  const cluster = env.descriptor.redisCluster;
  if (!cluster) throw new Error('no Redis Cluster in this environment: the suite must require labEnvironment({ redisCluster: true })');
  return new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 2 }, ...options });
}

export function schemaRegistry(env: LabEnvironment): SchemaRegistry {
  return new SchemaRegistry({ host: env.descriptor.schemaRegistry.url });
}
