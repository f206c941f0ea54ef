/**
 * Native Apache Kafka in KRaft mode: one dedicated controller and N brokers.
 *
 * The controller is its own process so an experiment can SIGKILL any broker without touching the
 * metadata quorum. Each broker has two listeners:
 *   INTERNAL  broker↔broker and the controller's view of the broker (never proxied)
 *   CLIENT    what clients use; its *advertised* address is the broker's Toxiproxy listen port, so every
 *             client→broker byte crosses the proxy. Advertising the real port would let clients bypass
 *             the proxy after the first metadata response (the classic "I only proxied bootstrap" bug).
 *
 * With replication links (a suite's `kafka.replicationLinks`), every broker also listens once per
 * broker of the cluster, `REPLICA_<F>`, and broker F uses `REPLICA_<F>` as its inter-broker listener.
 * Leader L advertises its `REPLICA_<F>` as the Toxiproxy proxy `replication-<F>-from-<L>`: every
 * connection follower F opens to L (fetches, and F's other inter-broker requests) crosses that proxy,
 * and nothing else does. One proxy per (follower, leader) pair, because a proxy in front of a leader's
 * single inter-broker listener could only cut all its followers at once, never one of them; Kafka finds
 * a broker's address by the *fetcher's* inter-broker listener name, which is what makes this possible.
 */
import fs from 'node:fs';
import path from 'node:path';
import { installDirs, nativeInfraDir, runPaths } from '../paths.ts';
import { versions } from '../versions.ts';
import { javaBinary, jvmFlags } from './java.ts';
import type { StepRunner } from './startup.ts';
import type { ProcessSpec } from './supervisor.ts';

export interface KafkaPlan {
  clusterId: string;
  controller: { id: number; port: number };
  brokers: Array<{
    id: number;
    internalPort: number;
    clientPort: number;
    proxyPort: number;
    /** The JMX exporter agent's port (Prometheus scrapes it); absent: no agent. */
    metricsPort?: number;
    /** With replication links: per follower id, this broker's REPLICA_<follower> listener and its proxy. */
    replication?: Record<number, { port: number; proxyPort: number }>;
  }>;
  /** Effective settings per node kind (default: `clusterDefaults` for both). */
  settings?: { controller: Record<string, string>; brokers: Record<string, string> };
}

/** Toxiproxy proxy carrying follower `follower`'s connections to leader `leader`. */
export const replicationProxyName = (follower: number, leader: number) => `replication-${follower}-from-${leader}`;

/** Every replication link of a plan: the proxy listens on the leader's advertised REPLICA_<follower>. */
export function replicationLinks(plan: KafkaPlan): Array<{ follower: number; leader: number; name: string; listen: string; upstream: string }> {
  return plan.brokers.flatMap((leader) =>
    plan.brokers
      .filter((follower) => follower.id !== leader.id && leader.replication?.[follower.id])
      .map((follower) => {
        const link = leader.replication![follower.id]!;
        return { follower: follower.id, leader: leader.id, name: replicationProxyName(follower.id, leader.id), listen: `127.0.0.1:${link.proxyPort}`, upstream: `127.0.0.1:${link.port}` };
      }),
  );
}

/**
 * Cluster defaults the whole lab relies on (the catalog: RF 3, min.insync.replicas 2). They go to the
 * controller too: in KRaft the *controller* resolves a CreateTopics request's replicationFactor=-1 /
 * numPartitions=-1 and decides leader elections (unclean.leader.election.enable), so settings given to
 * brokers only are silently ignored there (E-000 caught this: topics came out with RF 1).
 */
export const clusterDefaults: Record<string, string> = {
  'default.replication.factor': '3',
  'min.insync.replicas': '2',
  'num.partitions': '3',
  'offsets.topic.replication.factor': '3',
  // Fewer internal partitions than the defaults (50): the first consumer group and the first
  // transactional producer then come up in a second instead of many on a 2-core machine.
  'offsets.topic.num.partitions': '6',
  'transaction.state.log.replication.factor': '3',
  'transaction.state.log.min.isr': '2',
  'transaction.state.log.num.partitions': '6',
  'unclean.leader.election.enable': 'false',
  'auto.create.topics.enable': 'false',
  'group.initial.rebalance.delay.ms': '0',
  // Faster failure detection than the defaults so broker-kill experiments do not idle for 30 s.
  'broker.session.timeout.ms': '6000',
  'broker.heartbeat.interval.ms': '1000',
  'replica.lag.time.max.ms': '10000',
  'num.network.threads': '2',
  'num.io.threads': '4',
  'num.recovery.threads.per.data.dir': '1',
  'log.retention.hours': '24',
};

export function kafkaLibs(): string {
  return path.join(installDirs.kafka(versions.kafka), 'libs');
}

function properties(entries: Record<string, string>): string {
  return `${Object.entries(entries)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n')}\n`;
}

export function controllerProperties(plan: KafkaPlan): string {
  const { id, port } = plan.controller;
  return properties({
    'process.roles': 'controller',
    'node.id': String(id),
    'controller.quorum.voters': `${id}@127.0.0.1:${port}`,
    listeners: `CONTROLLER://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT',
    'log.dirs': runPaths.data(`controller-${id}`),
    ...(plan.settings?.controller ?? clusterDefaults),
  });
}

export function brokerProperties(plan: KafkaPlan, brokerId: number): string {
  const broker = plan.brokers.find((candidate) => candidate.id === brokerId);
  if (!broker) throw new Error(`no broker ${brokerId} in plan`);
  const replicas = broker.replication ? plan.brokers.map((peer) => ({ name: `REPLICA_${peer.id}`, peer: peer.id, ...broker.replication![peer.id]! })) : [];
  if (replicas.some((replica) => replica.port === undefined)) throw new Error(`broker ${brokerId} lacks a replication listener for a peer`);
  // A broker's own REPLICA_<self> is never connected to by a peer (nobody fetches as it): advertised direct.
  const advertised = (replica: (typeof replicas)[number]) => (replica.peer === broker.id ? replica.port : replica.proxyPort);
  return properties({
    'process.roles': 'broker',
    'node.id': String(broker.id),
    'controller.quorum.voters': `${plan.controller.id}@127.0.0.1:${plan.controller.port}`,
    'controller.listener.names': 'CONTROLLER',
    listeners: [`INTERNAL://127.0.0.1:${broker.internalPort}`, `CLIENT://127.0.0.1:${broker.clientPort}`, ...replicas.map((r) => `${r.name}://127.0.0.1:${r.port}`)].join(','),
    'advertised.listeners': [`INTERNAL://127.0.0.1:${broker.internalPort}`, `CLIENT://127.0.0.1:${broker.proxyPort}`, ...replicas.map((r) => `${r.name}://127.0.0.1:${advertised(r)}`)].join(','),
    'inter.broker.listener.name': broker.replication ? `REPLICA_${broker.id}` : 'INTERNAL',
    'listener.security.protocol.map': ['CONTROLLER', 'INTERNAL', 'CLIENT', ...replicas.map((r) => r.name)].map((name) => `${name}:PLAINTEXT`).join(','),
    'log.dirs': runPaths.data(`broker-${broker.id}`),
    ...(plan.settings?.brokers ?? clusterDefaults),
  });
}

/** Kafka's cluster id format: 16 random bytes, base64url without padding. */
/**
 * A KRaft cluster id: 16 random bytes, base64url. Never starting with '-': one id in 64 would, and
 * kafka-storage's argument parser then reads it as an option ("argument --cluster-id/-t: expected one
 * argument"; a fresh-clone CI run failed so). Kafka's own Uuid.randomUuid() redraws for the same reason.
 */
export function newClusterId(): string {
  for (;;) {
    const id = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** The JMX exporter agent's jar (installed by `npm run setup` into .lab/jmx-exporter). */
export function jmxAgentJar(): string {
  return path.join(installDirs.jmxExporter, `jmx_prometheus_javaagent-${versions.jmxExporter}.jar`);
}

/** `-javaagent:<jar>=127.0.0.1:<port>:<config>`: the agent serves /metrics on loopback only. */
export function jmxAgentFlag(port: number): string {
  // The config is the run dir's copy (lab/observability/stack.ts), at the same path in a container.
  return `-javaagent:${jmxAgentJar()}=127.0.0.1:${port}:${path.join(runPaths.root, 'observability', 'jmx-exporter.yml')}`;
}

function javaArgs(name: string, heapMb: number, mainClass: string, extra: string[], agents: string[] = []): string[] {
  return [
    ...jvmFlags({ heapMb }),
    ...agents,
    `-Dlog4j2.configurationFile=${path.join(nativeInfraDir, 'log4j2.properties')}`,
    `-Dlab.process=${name}`,
    '-cp',
    `${kafkaLibs()}/*`,
    mainClass,
    ...extra,
  ];
}

/**
 * Writes server.properties for every node and formats their storage (once per cluster). The formatter
 * runs as a supervised step (`run`), its output at the top of the node's own log.
 */
export async function prepareKafka(plan: KafkaPlan, run: StepRunner): Promise<void> {
  const nodes = [
    { name: `controller`, file: controllerProperties(plan) },
    ...plan.brokers.map((broker) => ({ name: `broker-${broker.id}`, file: brokerProperties(plan, broker.id) })),
  ];
  await Promise.all(
    nodes.map(async ({ name, file }) => {
      const confDir = runPaths.conf(name);
      fs.mkdirSync(confDir, { recursive: true });
      const propsFile = path.join(confDir, 'server.properties');
      fs.writeFileSync(propsFile, file);
      // C1 JIT only: the storage tool runs for a second, full JIT would only cost CPU.
      const args = [
        '-XX:TieredStopAtLevel=1',
        ...javaArgs(name, 128, 'kafka.tools.StorageTool', ['format', `--cluster-id=${plan.clusterId}`, '-c', propsFile, '--ignore-formatted']),
      ];
      await run({ name: `${name}-format`, command: javaBinary(), args, logFile: runPaths.log(name) });
    }),
  );
}

export function controllerSpec(plan: KafkaPlan): ProcessSpec {
  return {
    name: 'controller',
    command: javaBinary(),
    args: javaArgs('controller', 256, 'kafka.Kafka', [path.join(runPaths.conf('controller'), 'server.properties')]),
    logFile: runPaths.log('controller'),
  };
}

export function brokerSpec(brokerId: number, metricsPort?: number): ProcessSpec {
  const name = `broker-${brokerId}`;
  return {
    name,
    command: javaBinary(),
    args: javaArgs(name, 512, 'kafka.Kafka', [path.join(runPaths.conf(name), 'server.properties')], metricsPort ? [jmxAgentFlag(metricsPort)] : []),
    logFile: runPaths.log(name),
  };
}
