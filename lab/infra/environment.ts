/**
 * The one typed environment every provider returns (local processes, Testcontainers, an external
 * cluster). Experiments only see this: they never care where the brokers run.
 *
 * Two layers: `EnvironmentDescriptor` is plain JSON (written to .lab/run/cluster.json, handed from
 * Vitest's global setup to test files with provide/inject); `LabEnvironment` adds live clients built
 * from it by `connectEnvironment()`.
 */
import type { Toxiproxy } from 'toxiproxy-node-client';
import type { ClusterShape } from './requirements.ts';

export type ProviderName = 'local' | 'containers' | 'external';

/** Processes a provider can fault. Brokers are `broker-<node id>`. */
export type ProcessTarget = 'controller' | `broker-${number}` | 'mysql' | 'redis' | 'registry' | `redis-cluster-${number}`;

export interface BrokerEndpoint {
  /** Kafka node id. */
  id: number;
  /** host:port as clients see it (the broker's Toxiproxy listen address where there is one). */
  address: string;
  /** Name of the Toxiproxy proxy in front of this broker's client listener. */
  proxy?: string;
}

/** Follower `follower`'s connections to leader `leader` (replication fetches) go through `proxy`. */
export interface ReplicationLink {
  follower: number;
  leader: number;
  proxy: string;
}

export interface EnvironmentDescriptor {
  provider: ProviderName;
  /** `persistent`: started by `lab up`, left running. `ephemeral`: owned by one test run. */
  ownership: 'persistent' | 'ephemeral' | 'external';
  kafka: {
    brokers: BrokerEndpoint[];
    controller?: string;
    /** Proxies on the broker-to-broker links, when the cluster was started with replication links. */
    replicationLinks?: ReplicationLink[];
  };
  /** Redis Cluster's nodes (clients need only some to discover the rest), when a suite required it. */
  redisCluster?: { nodes: Array<{ host: string; port: number }> };
  /**
   * The settings and parts the cluster was started with (lab-started clusters): compared with what
   * each suite requires, so a cluster that differs is restarted or extended, never silently reused.
   */
  shape?: ClusterShape;
  schemaRegistry: { url: string; proxy?: string };
  mysql: { host: string; port: number; user: string; password: string; proxy?: string };
  redis: { host: string; port: number; password?: string; proxy?: string };
  toxiproxy?: { url: string };
  /** How to reach the process-control handle; absent when the provider cannot control processes. */
  /** `local`: the pid files of the run dir (the containers provider's records name their containers). */
  processControl?: { kind: 'local'; runDir: string };
  /** The metrics stack `lab up` starts beside the cluster (lab/observability/stack.ts); absent elsewhere. */
  observability?: { prometheusUrl: string; alertmanagerUrl: string };
  /** Prefix for every topic, database, subject and Redis key the lab creates (external clusters). */
  namePrefix: string;
  startedAt: string;
}

export interface ProcessControl {
  targets(): ProcessTarget[];
  /** SIGKILL: no shutdown hooks, no flush. */
  kill(target: ProcessTarget): Promise<void>;
  /**
   * SIGTERM, and wait until it exited (SIGKILL after `graceMs`): a controlled stop. A Kafka broker shuts
   * down cleanly — controlled shutdown with the controller, logs flushed — unlike after `kill`.
   */
  terminate(target: ProcessTarget, graceMs?: number): Promise<void>;
  /** SIGSTOP: the process hangs (GC-pause / VM-freeze fault). */
  pause(target: ProcessTarget): Promise<void>;
  /** SIGCONT after pause. */
  resume(target: ProcessTarget): Promise<void>;
  /** Start again (after kill) and wait until it answers. */
  restart(target: ProcessTarget): Promise<void>;
  isRunning(target: ProcessTarget): Promise<boolean>;
}

export interface LabEnvironment {
  descriptor: EnvironmentDescriptor;
  /** Client-visible bootstrap list. */
  brokers: string[];
  /** Toxiproxy client, when the provider puts proxies in front of the links. */
  toxiproxy?: Toxiproxy;
  proxies: {
    brokers: Record<number, string>;
    mysql?: string;
    redis?: string;
    registry?: string;
    /** Replication proxies by follower and leader: `proxies.replication[follower][leader]`. */
    replication: Record<number, Record<number, string>>;
  };
  processes?: ProcessControl;
}
