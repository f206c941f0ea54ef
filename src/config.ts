/**
 * Configuration shared by the services. In-process, a test passes the object to `start(config)`; as its
 * own process (`npx lab service <name>`), the same object comes as JSON in LAB_SERVICE_CONFIG.
 */
import type { TopicNames } from './kafka/topics.ts';

export interface MysqlConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface RedisConfig {
  host: string;
  port: number;
  password?: string;
  /** Prefix of every key the service writes (suite isolation). */
  keyPrefix: string;
}

export interface CommonConfig {
  mysql: MysqlConfig;
  kafka: { brokers: string[] };
  schemaRegistryUrl: string;
  topics: TopicNames;
  /** HTTP port on 127.0.0.1; 0 or absent = a free port (reported back by `start`). */
  httpPort?: number;
  /** pino level; default `warn` so experiments' output stays readable. */
  logLevel?: string;
}
