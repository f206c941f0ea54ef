/**
 * The fixed host ports docker-compose.yml publishes (every client link through Toxiproxy), and so the
 * defaults of the `external` provider: `docker compose up -d && LAB_PROVIDER=external npm run test:lab`.
 * A unit test (test/unit/docker-compose.test.ts) keeps the compose file and these values in step.
 */
export const composePorts = {
  toxiproxyApi: 8474,
  brokers: [29091, 29092, 29093],
  mysql: 23306,
  redis: 26379,
  registry: 28081,
  kafkaUi: 8080,
} as const;

export const composeEndpoints = {
  kafkaBrokers: composePorts.brokers.map((port) => `localhost:${port}`).join(','),
  schemaRegistryUrl: `http://localhost:${composePorts.registry}`,
  mysqlUrl: `mysql://root@localhost:${composePorts.mysql}`,
  redisUrl: `redis://localhost:${composePorts.redis}`,
  toxiproxyUrl: `http://localhost:${composePorts.toxiproxyApi}`,
};
