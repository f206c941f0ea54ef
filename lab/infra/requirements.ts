/**
 * What a suite requires of the cluster, and the cluster shape that follows from it. A suite passes its
 * requirements to `labEnvironment(...)`; before its first test the environment makes the running
 * cluster match them exactly: Kafka restarted with other settings, Redis Cluster started or stopped.
 * A suite that requires nothing gets the default shape back, whatever the file before it needed.
 *
 * Pure (no I/O): the comparison of a recorded shape with a wanted one is unit-tested.
 */
import { clusterDefaults } from './local/kafka.ts';

/** Kafka settings as server.properties names them (`min.insync.replicas`: `'3'`). */
export type KafkaSettings = Readonly<Record<string, string>>;

export interface KafkaRequirements {
  /** To every node, controller and brokers alike (like the lab's cluster defaults). */
  cluster?: KafkaSettings;
  /**
   * To the brokers; those the KRaft controller resolves for the whole cluster (`controllerResolved`)
   * go to the controller too, or the brokers' value would be silently overridden or ignored.
   */
  brokers?: KafkaSettings;
  /**
   * To the KRaft controller only: it decides leader elections (`unclean.leader.election.enable`) and
   * resolves topic defaults of CreateTopics, so such settings given to brokers are silently ignored.
   */
  controller?: KafkaSettings;
  /**
   * A Toxiproxy proxy on every broker-to-broker link (follower → leader: replication fetches and the
   * other inter-broker requests), named `replication-<follower>-from-<leader>`, so an experiment can
   * cut or slow replication to or from one broker while clients and the controller still reach it.
   */
  replicationLinks?: boolean;
}

export interface LabRequirements {
  kafka?: KafkaRequirements;
  /** Six redis-server nodes in cluster mode, three masters with a replica each (`descriptor.redisCluster`). */
  redisCluster?: boolean;
}

/** The shape a cluster was started with: recorded in the descriptor, compared with what a suite wants. */
export interface ClusterShape {
  kafka: {
    /** Effective server.properties settings beyond the node's own (listeners, ids, paths). */
    controller: Record<string, string>;
    brokers: Record<string, string>;
    replicationLinks: boolean;
  };
  redisCluster: boolean;
}

/**
 * Settings the KRaft controller decides for the whole cluster, whatever the brokers' files say:
 * `min.insync.replicas` (with eligible leader replicas, Kafka 4's default, the controller writes its
 * own value as the cluster-wide dynamic default at bootstrap, and that beats a broker's static one: a
 * brokers-only 3 was read back as 2 from every broker), and the topic defaults and elections it
 * resolves itself (see ARCHITECTURE.md, "Cluster defaults on the controller too").
 */
export const controllerResolved = ['min.insync.replicas', 'default.replication.factor', 'num.partitions', 'unclean.leader.election.enable'];

/** What makes a node that node (the lab's own wiring): a suite may not override these. */
export const reservedKafkaSettings = [
  'process.roles', 'node.id', 'controller.quorum.voters', 'controller.quorum.bootstrap.servers', 'controller.listener.names', 'listeners',
  'advertised.listeners', 'inter.broker.listener.name', 'listener.security.protocol.map', 'log.dirs', 'log.dir',
];

export function wantedShape(requirements: LabRequirements = {}): ClusterShape {
  const kafka = requirements.kafka ?? {};
  const reserved = [kafka.cluster, kafka.brokers, kafka.controller].flatMap((settings) => Object.keys(settings ?? {})).filter((key) => reservedKafkaSettings.includes(key));
  if (reserved.length > 0) throw new Error(`the lab wires ${[...new Set(reserved)].join(', ')} itself: a suite cannot require them`);
  return {
    kafka: {
      controller: sorted({ ...clusterDefaults, ...kafka.cluster, ...pick(kafka.brokers, controllerResolved), ...kafka.controller }),
      brokers: sorted({ ...clusterDefaults, ...kafka.cluster, ...kafka.brokers }),
      replicationLinks: kafka.replicationLinks === true,
    },
    redisCluster: requirements.redisCluster === true,
  };
}

/** The default cluster: what `lab up` and the global setup start. */
export const defaultShape: ClusterShape = wantedShape();

/** What differs, one line each (empty: the running cluster fits). An unrecorded shape differs in everything. */
export function shapeDifferences(running: ClusterShape | undefined, wanted: ClusterShape): { kafka: string[]; redisCluster: string[] } {
  if (!running) return { kafka: ['the running cluster recorded no Kafka settings'], redisCluster: wanted.redisCluster ? ['Redis Cluster is not running'] : [] };
  const kafka = [
    ...settingDifferences('controller', running.kafka.controller, wanted.kafka.controller),
    ...settingDifferences('brokers', running.kafka.brokers, wanted.kafka.brokers),
    ...(running.kafka.replicationLinks !== wanted.kafka.replicationLinks ? [`replication links ${running.kafka.replicationLinks ? 'proxied' : 'direct'}, ${wanted.kafka.replicationLinks ? 'proxied' : 'direct'} wanted`] : []),
  ];
  const redisCluster = running.redisCluster !== wanted.redisCluster ? [`Redis Cluster ${running.redisCluster ? 'running' : 'not running'}, ${wanted.redisCluster ? 'required' : 'not required'}`] : [];
  return { kafka, redisCluster };
}

function settingDifferences(node: string, running: Record<string, string>, wanted: Record<string, string>): string[] {
  const keys = [...new Set([...Object.keys(running), ...Object.keys(wanted)])].sort();
  return keys.filter((key) => running[key] !== wanted[key]).map((key) => `${node} ${key}=${running[key] ?? '(unset)'}, ${wanted[key] ?? '(unset)'} wanted`);
}

function pick(settings: KafkaSettings | undefined, keys: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(settings ?? {}).filter(([key]) => keys.includes(key)));
}

function sorted(settings: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(settings)
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}
