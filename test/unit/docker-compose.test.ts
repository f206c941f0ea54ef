/**
 * docker-compose.yml keeps the official images users expect (its images cannot be pulled on the lab's
 * machines, whose containers provider builds its own), so this test holds it to the lab's own
 * components: image versions, cluster defaults, the brokers' and controller's settings by name and
 * listener, advertised addresses through Toxiproxy, proxy names and the published ports the
 * `external` provider falls back to.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { brokerProperties, clusterDefaults, controllerProperties, type KafkaPlan } from '../../lab/infra/local/kafka.ts';
import { repoRoot } from '../../lab/infra/paths.ts';
import { kafkaEnv } from '../../lab/infra/providers/containers.ts';
import { composeEndpoints, composePorts } from '../../lab/infra/providers/compose-endpoints.ts';
import { proxyName } from '../../lab/infra/proxies.ts';
import { versions } from '../../lab/infra/versions.ts';

interface Service {
  image: string;
  environment?: Record<string, string>;
  ports?: string[];
  command?: string[];
  volumes?: string[];
}
const compose = parse(fs.readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const toxiproxyConfig = JSON.parse(fs.readFileSync(path.join(repoRoot, 'infra/compose/toxiproxy.json'), 'utf8')) as Array<{ name: string; listen: string; upstream: string }>;
const brokers = [1, 2, 3].map((id) => ({ id, service: services[`broker-${id}`]! }));

describe('docker-compose.yml', () => {
  it('uses the image versions the lab pins', () => {
    expect(services.controller!.image).toBe(versions.images.kafka);
    for (const { service } of brokers) expect(service.image).toBe(versions.images.kafka);
    expect(services['schema-registry']!.image).toBe(versions.images.schemaRegistry);
    expect(services.mysql!.image).toBe(versions.images.mysql);
    expect(services.redis!.image).toBe(versions.images.redis);
    expect(services.toxiproxy!.image).toBe(versions.images.toxiproxy);
    expect(services['kafka-ui']!.image).toBe(versions.images.kafkaUi);
  });

  it('gives the controller and every broker the lab cluster defaults (RF 3, min ISR 2, …)', () => {
    const expected = kafkaEnv(clusterDefaults);
    for (const service of [services.controller!, ...brokers.map((b) => b.service)]) {
      expect(service.environment).toMatchObject(expected);
    }
  });

  it('has each broker advertise its Toxiproxy port to clients, and Toxiproxy forward it to that broker', () => {
    brokers.forEach(({ id, service }, index) => {
      const port = composePorts.brokers[index]!;
      expect(service.environment!.KAFKA_NODE_ID).toBe(String(id));
      expect(service.environment!.KAFKA_ADVERTISED_LISTENERS).toContain(`CLIENT://localhost:${port}`);
      expect(toxiproxyConfig).toContainEqual(expect.objectContaining({ name: proxyName.broker(id), listen: `0.0.0.0:${port}`, upstream: `broker-${id}:9092` }));
    });
    expect(composeEndpoints.kafkaBrokers).toBe('localhost:29091,localhost:29092,localhost:29093');
  });

  it('puts MySQL, Redis and the registry behind proxies named as in the lab', () => {
    expect(toxiproxyConfig).toContainEqual(expect.objectContaining({ name: proxyName.mysql, listen: `0.0.0.0:${composePorts.mysql}`, upstream: 'mysql:3306' }));
    expect(toxiproxyConfig).toContainEqual(expect.objectContaining({ name: proxyName.redis, listen: `0.0.0.0:${composePorts.redis}`, upstream: 'redis:6379' }));
    expect(toxiproxyConfig).toContainEqual(expect.objectContaining({ name: proxyName.registry, listen: `0.0.0.0:${composePorts.registry}`, upstream: 'schema-registry:8081' }));
  });

  it('publishes exactly the external provider default ports, on 127.0.0.1 only', () => {
    const published = Object.values(services).flatMap((service) => service.ports ?? []);
    for (const mapping of published) expect(mapping).toMatch(/^127\.0\.0\.1:/);
    const hostPorts = published.map((mapping) => Number(mapping.split(':')[1])).sort((a, b) => a - b);
    const expected = [composePorts.toxiproxyApi, ...composePorts.brokers, composePorts.mysql, composePorts.redis, composePorts.registry, composePorts.kafkaUi].sort((a, b) => a - b);
    expect(hostPorts).toEqual(expected);
  });

  it('sets, by the names the apache/kafka image reads, every setting the local components give a broker and the controller', () => {
    const plan: KafkaPlan = { clusterId: 'x', controller: { id: 0, port: 1 }, brokers: [{ id: 1, internalPort: 2, clientPort: 3, proxyPort: 4 }] };
    const parse = (text: string) => Object.fromEntries(text.trim().split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
    // Paths and the quorum's address differ by construction (data dirs; host names on the compose network).
    const placeSpecific = ['log.dirs', 'controller.quorum.voters'];
    const names = (properties: Record<string, string>) => Object.keys(kafkaEnv(Object.fromEntries(Object.entries(properties).filter(([key]) => !placeSpecific.includes(key)))));
    const broker = parse(brokerProperties(plan, 1));
    const controller = parse(controllerProperties(plan));
    for (const { service } of brokers) expect(Object.keys(service.environment!)).toEqual(expect.arrayContaining(names(broker)));
    expect(Object.keys(services.controller!.environment!)).toEqual(expect.arrayContaining(names(controller)));
    expect(services.controller!.environment!.KAFKA_CONTROLLER_QUORUM_VOTERS).toMatch(/^0@controller:\d+$/);
    // Same listener names, roles and protocol map as the local brokers: faults address them by name.
    const listenerNames = (value: string) => value.split(',').map((listener) => listener.split(':')[0]).sort();
    for (const { service } of brokers) {
      const env = service.environment!;
      expect(listenerNames(env.KAFKA_LISTENERS!)).toEqual(listenerNames(broker.listeners!));
      expect(listenerNames(env.KAFKA_ADVERTISED_LISTENERS!)).toEqual(listenerNames(broker['advertised.listeners']!));
      expect(env.KAFKA_INTER_BROKER_LISTENER_NAME).toBe(broker['inter.broker.listener.name']);
      expect(env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP).toBe(broker['listener.security.protocol.map']);
      expect(env.KAFKA_PROCESS_ROLES).toBe(broker['process.roles']);
      expect(env.KAFKA_CONTROLLER_LISTENER_NAMES).toBe(broker['controller.listener.names']);
    }
    expect(services.controller!.environment!.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP).toBe(controller['listener.security.protocol.map']);
    expect(services.controller!.environment!.KAFKA_PROCESS_ROLES).toBe(controller['process.roles']);
  });
});
