/**
 * Clients for the lab's components, configured from the environment. Experiments build their own
 * producers/consumers from `kafka()`; these helpers only fix what every client of the lab shares.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { Redis, type RedisOptions } from 'ioredis';
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

export function mysqlPool(env: LabEnvironment, database?: string, options: mysql.PoolOptions = {}): mysql.Pool {
  const { host, port, user, password } = env.descriptor.mysql;
  return mysql.createPool({ host, port, user, password, ...(database ? { database } : {}), connectionLimit: 10, connectTimeout: 5000, ...options });
}

export function redis(env: LabEnvironment, options: RedisOptions = {}): Redis {
  const { host, port, password } = env.descriptor.redis;
  return new Redis({ host, port, ...(password ? { password } : {}), maxRetriesPerRequest: 2, ...options });
}

export function schemaRegistry(env: LabEnvironment): SchemaRegistry {
  return new SchemaRegistry({ host: env.descriptor.schemaRegistry.url });
}
