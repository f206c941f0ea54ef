/**
 * `containers` provider (Testcontainers): the same topology as `local` where a Docker engine answers:
 * a KRaft controller and three brokers, MySQL 8, Redis 7, Confluent Schema Registry and Toxiproxy on
 * one Docker network. Everything that is not Docker-specific (broker settings, proxy names, the
 * descriptor) is shared with the local provider. No Docker engine runs on the lab's own machines, so
 * this file is exercised by the GitHub Actions workflow (.github/workflows/lab.yml).
 *
 * Brokers advertise `host:<mapped port of their Toxiproxy listener>`, so, as locally, every client byte
 * crosses the proxy; inter-broker traffic uses the INTERNAL listener on the Docker network.
 */
import { GenericContainer, getContainerRuntimeClient, Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { Toxiproxy } from 'toxiproxy-node-client';
import type { EnvironmentDescriptor, ProcessControl, ProcessTarget } from '../environment.ts';
import { clusterDefaults, newClusterId } from '../local/kafka.ts';
import { proxyName, proxyPlan } from '../proxies.ts';
import { versions } from '../versions.ts';
import type { AcquiredEnvironment, AcquireOptions } from './types.ts';

const brokerCount = 3;
/** Toxiproxy listen ports inside its container: brokers, then mysql, redis, registry. */
const proxyPorts = { brokers: [8666, 8667, 8668], mysql: 8669, redis: 8670, registry: 8671 };

/** Broker settings as the apache/kafka image reads them: KAFKA_ + upper case, dots as underscores. */
export function kafkaEnv(settings: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(settings).map(([key, value]) => [`KAFKA_${key.toUpperCase().replaceAll('.', '_')}`, value]));
}

export async function acquireContainers(options: AcquireOptions): Promise<AcquiredEnvironment> {
  const log = options.log ?? (() => undefined);
  const network: StartedNetwork = await new Network().start();
  const started: StartedTestContainer[] = [];
  const track = (container: StartedTestContainer) => {
    started.push(container);
    return container;
  };
  const release = async () => {
    for (const container of started.reverse()) await container.stop({ timeout: 5000 }).catch(() => undefined);
    await network.stop().catch(() => undefined);
  };
  try {
    const toxiproxy = track(
      await new GenericContainer(versions.images.toxiproxy)
        .withNetwork(network)
        .withNetworkAliases('toxiproxy')
        .withExposedPorts(8474, ...proxyPorts.brokers, proxyPorts.mysql, proxyPorts.redis, proxyPorts.registry)
        .withWaitStrategy(Wait.forHttp('/version', 8474))
        .start(),
    );
    const host = toxiproxy.getHost();
    const toxiproxyUrl = `http://${host}:${toxiproxy.getMappedPort(8474)}`;
    await new Toxiproxy(toxiproxyUrl).populate(
      proxyPlan({
        brokers: proxyPorts.brokers.map((port, index) => ({ id: index + 1, listen: `0.0.0.0:${port}`, upstream: `broker-${index + 1}:9092` })),
        mysql: { listen: `0.0.0.0:${proxyPorts.mysql}`, upstream: 'mysql:3306' },
        redis: { listen: `0.0.0.0:${proxyPorts.redis}`, upstream: 'redis:6379' },
        registry: { listen: `0.0.0.0:${proxyPorts.registry}`, upstream: 'schema-registry:8081' },
      }),
    );

    const clusterId = newClusterId();
    const voters = '0@controller:9093';
    const kraft = { KAFKA_CONTROLLER_QUORUM_VOTERS: voters, KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER', CLUSTER_ID: clusterId };
    const controller = new GenericContainer(versions.images.kafka)
      .withNetwork(network)
      .withNetworkAliases('controller')
      .withEnvironment({ ...kraft, KAFKA_NODE_ID: '0', KAFKA_PROCESS_ROLES: 'controller', KAFKA_LISTENERS: 'CONTROLLER://:9093', KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT', KAFKA_HEAP_OPTS: '-Xmx256m', ...kafkaEnv(clusterDefaults) })
      .start();
    const brokers = Array.from({ length: brokerCount }, (_, index) => {
      const id = index + 1;
      const advertised = `${host}:${toxiproxy.getMappedPort(proxyPorts.brokers[index]!)}`;
      return new GenericContainer(versions.images.kafka)
        .withNetwork(network)
        .withNetworkAliases(`broker-${id}`)
        .withEnvironment({
          ...kraft,
          ...kafkaEnv(clusterDefaults),
          KAFKA_NODE_ID: String(id),
          KAFKA_PROCESS_ROLES: 'broker',
          KAFKA_LISTENERS: 'INTERNAL://:19092,CLIENT://:9092',
          KAFKA_ADVERTISED_LISTENERS: `INTERNAL://broker-${id}:19092,CLIENT://${advertised}`,
          KAFKA_INTER_BROKER_LISTENER_NAME: 'INTERNAL',
          KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,CLIENT:PLAINTEXT',
          KAFKA_HEAP_OPTS: '-Xmx512m',
        })
        .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
        .start();
    });
    const mysqlPassword = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('hex');
    const mysql = new GenericContainer(versions.images.mysql)
      .withNetwork(network)
      .withNetworkAliases('mysql')
      .withEnvironment({ MYSQL_ROOT_PASSWORD: mysqlPassword })
      .withCommand(['--innodb-flush-log-at-trx-commit=1', '--transaction-isolation=REPEATABLE-READ'])
      .withWaitStrategy(Wait.forLogMessage(/ready for connections.*port: 3306/))
      .withStartupTimeout(120_000)
      .start();
    const redis = new GenericContainer(versions.images.redis).withNetwork(network).withNetworkAliases('redis').withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/)).start();

    const named: Record<string, StartedTestContainer> = { controller: track(await controller) };
    (await Promise.all(brokers)).forEach((broker, index) => (named[`broker-${index + 1}`] = track(broker)));
    named.mysql = track(await mysql);
    named.redis = track(await redis);
    named.registry = track(
      await new GenericContainer(versions.images.schemaRegistry)
        .withNetwork(network)
        .withNetworkAliases('schema-registry')
        .withEnvironment({
          SCHEMA_REGISTRY_HOST_NAME: 'schema-registry',
          SCHEMA_REGISTRY_LISTENERS: 'http://0.0.0.0:8081',
          SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS: Array.from({ length: brokerCount }, (_, i) => `PLAINTEXT://broker-${i + 1}:19092`).join(','),
          SCHEMA_REGISTRY_SCHEMA_COMPATIBILITY_LEVEL: 'backward',
        })
        .withWaitStrategy(Wait.forHttp('/subjects', 8081))
        .start(),
    );

    const descriptor: EnvironmentDescriptor = {
      provider: 'containers',
      ownership: 'ephemeral',
      kafka: { brokers: proxyPorts.brokers.map((port, index) => ({ id: index + 1, address: `${host}:${toxiproxy.getMappedPort(port)}`, proxy: proxyName.broker(index + 1) })) },
      schemaRegistry: { url: `http://${host}:${toxiproxy.getMappedPort(proxyPorts.registry)}`, proxy: proxyName.registry },
      mysql: { host, port: toxiproxy.getMappedPort(proxyPorts.mysql), user: 'root', password: mysqlPassword, proxy: proxyName.mysql },
      redis: { host, port: toxiproxy.getMappedPort(proxyPorts.redis), proxy: proxyName.redis },
      toxiproxy: { url: toxiproxyUrl },
      processControl: { kind: 'containers', containerIds: Object.fromEntries(Object.entries(named).map(([name, container]) => [name, container.getId()])) },
      namePrefix: 'lab',
      startedAt: new Date().toISOString(),
    };
    log('started the containers environment');
    return { descriptor, release };
  } catch (error) {
    await release();
    throw error;
  }
}

/** Process faults through the Docker API: kill -9, pause/unpause (the cgroup freezer), start. */
export class ContainersProcessControl implements ProcessControl {
  constructor(private readonly containerIds: Record<string, string>) {}

  targets(): ProcessTarget[] {
    return Object.keys(this.containerIds).sort() as ProcessTarget[];
  }

  private async container(target: ProcessTarget) {
    const id = this.containerIds[target];
    if (!id) throw new Error(`unknown process target '${target}' (known: ${this.targets().join(', ')})`);
    return (await getContainerRuntimeClient()).container.getById(id);
  }

  async kill(target: ProcessTarget) {
    await (await this.container(target)).kill({ signal: 'SIGKILL' });
  }
  async pause(target: ProcessTarget) {
    await (await this.container(target)).pause();
  }
  async resume(target: ProcessTarget) {
    await (await this.container(target)).unpause();
  }
  async restart(target: ProcessTarget) {
    const container = await this.container(target);
    if ((await container.inspect()).State.Running) await container.kill({ signal: 'SIGKILL' });
    await container.start();
  }
  async isRunning(target: ProcessTarget) {
    return (await (await this.container(target)).inspect()).State.Running;
  }
}
