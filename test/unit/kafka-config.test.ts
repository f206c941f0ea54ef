import { describe, expect, it } from 'vitest';
import { brokerProperties, clusterDefaults, controllerProperties, newClusterId, replicationLinks, type KafkaPlan } from '../../lab/infra/local/kafka.ts';
import { wantedShape } from '../../lab/infra/requirements.ts';
import { parseJavaVersion } from '../../lab/infra/local/java.ts';
import { kafkaEnv } from '../../lab/infra/providers/containers.ts';

const plan: KafkaPlan = {
  clusterId: 'abc',
  controller: { id: 0, port: 9000 },
  brokers: [
    { id: 1, internalPort: 9101, clientPort: 9201, proxyPort: 9301 },
    { id: 2, internalPort: 9102, clientPort: 9202, proxyPort: 9302 },
  ],
};

const parse = (text: string) => Object.fromEntries(text.trim().split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));

describe('native Kafka configuration', () => {
  it('advertises the Toxiproxy address to clients and keeps inter-broker traffic off the proxy', () => {
    const props = parse(brokerProperties(plan, 2));
    expect(props['listeners']).toBe('INTERNAL://127.0.0.1:9102,CLIENT://127.0.0.1:9202');
    expect(props['advertised.listeners']).toBe('INTERNAL://127.0.0.1:9102,CLIENT://127.0.0.1:9302');
    expect(props['inter.broker.listener.name']).toBe('INTERNAL');
    expect(props['controller.quorum.voters']).toBe('0@127.0.0.1:9000');
    expect(props['process.roles']).toBe('broker');
  });

  it('gives the controller the cluster defaults too (KRaft resolves RF/partitions and elections there)', () => {
    const controller = parse(controllerProperties(plan));
    expect(controller['process.roles']).toBe('controller');
    for (const [key, value] of Object.entries(clusterDefaults)) expect(controller[key]).toBe(value);
    expect(clusterDefaults['default.replication.factor']).toBe('3');
    expect(clusterDefaults['min.insync.replicas']).toBe('2');
    expect(clusterDefaults['unclean.leader.election.enable']).toBe('false');
  });

  it('gives each node kind the settings a suite required, on top of the defaults', () => {
    const shape = wantedShape({ kafka: { brokers: { 'min.insync.replicas': '3' }, controller: { 'unclean.leader.election.enable': 'true' } } });
    const fitted: KafkaPlan = { ...plan, settings: { controller: shape.kafka.controller, brokers: shape.kafka.brokers } };
    const broker = parse(brokerProperties(fitted, 1));
    const controller = parse(controllerProperties(fitted));
    expect(broker['min.insync.replicas']).toBe('3');
    expect(controller['unclean.leader.election.enable']).toBe('true');
    expect(broker['unclean.leader.election.enable']).toBe('false');
    expect(broker['default.replication.factor']).toBe('3');
  });

  it('with replication links, each follower reaches each leader through its own proxy', () => {
    const linked: KafkaPlan = {
      ...plan,
      brokers: [
        { ...plan.brokers[0]!, replication: { 1: { port: 9411, proxyPort: 9511 }, 2: { port: 9412, proxyPort: 9512 } } },
        { ...plan.brokers[1]!, replication: { 1: { port: 9421, proxyPort: 9521 }, 2: { port: 9422, proxyPort: 9522 } } },
      ],
    };
    const props = parse(brokerProperties(linked, 2));
    // Broker 2 fetches over REPLICA_2: from broker 1 that is broker 1's proxy 9512 (below).
    expect(props['inter.broker.listener.name']).toBe('REPLICA_2');
    expect(props['listeners']).toBe('INTERNAL://127.0.0.1:9102,CLIENT://127.0.0.1:9202,REPLICA_1://127.0.0.1:9421,REPLICA_2://127.0.0.1:9422');
    // Its REPLICA_1 (what broker 1 fetches from it over) is advertised as a proxy; its own REPLICA_2 direct.
    expect(props['advertised.listeners']).toBe('INTERNAL://127.0.0.1:9102,CLIENT://127.0.0.1:9302,REPLICA_1://127.0.0.1:9521,REPLICA_2://127.0.0.1:9422');
    expect(props['listener.security.protocol.map']).toContain('REPLICA_1:PLAINTEXT,REPLICA_2:PLAINTEXT');
    expect(replicationLinks(linked)).toEqual([
      { follower: 2, leader: 1, name: 'replication-2-from-1', listen: '127.0.0.1:9512', upstream: '127.0.0.1:9412' },
      { follower: 1, leader: 2, name: 'replication-1-from-2', listen: '127.0.0.1:9521', upstream: '127.0.0.1:9421' },
    ]);
    expect(replicationLinks(plan)).toEqual([]);
  });

  it('makes Kafka-format cluster ids (22 chars of base64url), never starting with "-"', () => {
    // 1 in 64 random ids starts with '-', which kafka-storage parses as an option: 3,000 draws would
    // hit it ~47 times without the redraw.
    const ids = new Set(Array.from({ length: 3000 }, newClusterId));
    expect(ids.size).toBe(3000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });

  it('maps settings to the apache/kafka image environment', () => {
    expect(kafkaEnv({ 'min.insync.replicas': '2' })).toEqual({ KAFKA_MIN_INSYNC_REPLICAS: '2' });
  });

  it('parses java -version output of old and new JDKs', () => {
    expect(parseJavaVersion('openjdk version "17.0.15" 2025-04-15')).toBe(17);
    expect(parseJavaVersion('openjdk version "25.0.3" 2026-04-21 LTS')).toBe(25);
    expect(parseJavaVersion('java version "1.8.0_401"')).toBe(8);
    expect(parseJavaVersion('command not found')).toBeUndefined();
  });
});
