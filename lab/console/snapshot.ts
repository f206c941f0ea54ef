/**
 * What the lab console shows, gathered from outside the services: Kafka's own metadata and offsets
 * (lab/observe/offsets.ts), the admin API's group offsets (group-lag.ts), plain SQL on the outbox
 * (outbox-backlog.ts), the DLQ topics read by a fresh observer group and decoded with the registry, and
 * Prometheus and Alertmanager when the cluster runs them.
 *
 *   const source = new ConsoleSource(connectEnvironment(readDescriptor()!));
 *   await source.overview({ filter: 'e001' })  // processes, topics with LEO/HW/LSO, groups, outbox
 *   await source.deadLetters()                 // the newest DLQ records with their error headers
 *   await source.close();
 */
import type { Admin } from 'kafkajs';
import type { Pool } from 'mysql2/promise';
import { EnvelopeSerde, failureHeaders, RegistrySchemaSource } from '../../src/contract.ts';
import type { EnvironmentDescriptor, LabEnvironment } from '../infra/environment.ts';
import { kafka, mysqlPool } from '../infra/clients.ts';
import { describeProcesses } from '../infra/local/cluster.ts';
import { groupLags, type GroupLag } from '../observe/group-lag.ts';
import { OffsetProbe, type PartitionOffsets } from '../observe/offsets.ts';
import { outboxBacklogs, type OutboxBacklog } from '../observe/outbox-backlog.ts';
import { readTopic } from '../observe/topic.ts';
import { readFaultLog, type FaultLogEntry } from '../nemesis/chaos.ts';
import { signals } from '../observability/signals.ts';

/** Topics shown at once: experiments make many; the page's filter narrows them. */
export const topicLimit = 30;

export interface TopicView {
  name: string;
  partitions: Array<PartitionOffsets & { replicas: number[] }>;
}

export interface Overview {
  at: string;
  provider: EnvironmentDescriptor['provider'];
  processes: Array<{ name: string; state: 'up' | 'paused' | 'down'; pid: number; container?: string }>;
  topics: TopicView[];
  /** Topics matching the filter that were left out (over topicLimit). */
  topicsOmitted: number;
  groups: GroupLag[];
  outbox: OutboxBacklog[];
  faults: FaultLogEntry[];
  /** Why a section is empty when it failed (a broker down, MariaDB unreachable), by section. */
  errors: Record<string, string>;
}

export interface DeadLetterView {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  timestamp: number;
  errorClass?: string;
  errorMessage?: string;
  attempts?: string;
  originalTopic?: string;
  /** The decoded envelope, or why it could not be decoded (the reason it is a dead letter, often). */
  envelope?: unknown;
  undecodable?: string;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class ConsoleSource {
  private admin?: Promise<Admin>;
  private pool?: Pool;
  private readonly probes = new Map<string, Promise<OffsetProbe>>();

  constructor(readonly env: LabEnvironment) {}

  private kafkaAdmin(): Promise<Admin> {
    return (this.admin ??= (async () => {
      const admin = kafka(this.env, `lab-console-${process.pid}`, { retry: { retries: 1 } }).admin();
      await admin.connect();
      return admin;
    })());
  }

  private probe(topic: string): Promise<OffsetProbe> {
    let probe = this.probes.get(topic);
    if (!probe) this.probes.set(topic, (probe = OffsetProbe.open(this.env, topic)));
    return probe;
  }

  /** `filter` narrows topics, groups and databases to those whose name contains it (an arena's id, say). */
  async overview(options: { filter?: string } = {}): Promise<Overview> {
    const errors: Record<string, string> = {};
    const guard = async <T>(section: string, empty: T, read: () => Promise<T>): Promise<T> => {
      try {
        return await read();
      } catch (error) {
        errors[section] = message(error);
        return empty;
      }
    };
    const filter = options.filter?.trim() ?? '';
    const [topics, groups, outbox] = await Promise.all([
      guard('topics', { shown: [] as TopicView[], omitted: 0 }, () => this.topics(filter)),
      guard('groups', [] as GroupLag[], async () => groupLags(await this.kafkaAdmin(), (group) => group.includes(filter))),
      guard('outbox', [] as OutboxBacklog[], async () => (await outboxBacklogs((this.pool ??= mysqlPool(this.env)))).filter((b) => b.database.includes(filter))),
    ]);
    return {
      at: new Date().toISOString(),
      provider: this.env.descriptor.provider,
      processes: describeProcesses().map((p) => ({
        name: p.name,
        pid: p.pid,
        state: !p.alive ? 'down' : p.paused ? 'paused' : 'up',
        ...(p.container ? { container: p.container } : {}),
      })),
      topics: topics.shown,
      topicsOmitted: topics.omitted,
      groups,
      outbox,
      faults: readFaultLog().slice(-50),
      errors,
    };
  }

  private async topics(filter: string): Promise<{ shown: TopicView[]; omitted: number }> {
    const admin = await this.kafkaAdmin();
    const names = (await admin.listTopics()).filter((t) => !t.startsWith('__') && t.includes(filter)).sort();
    const shown = names.slice(0, topicLimit);
    const { topics } = await admin.fetchTopicMetadata({ topics: shown });
    const views = await Promise.all(topics.map(async (t): Promise<TopicView> => {
      const partitions = t.partitions.map((p) => p.partitionId).sort((a, b) => a - b);
      const offsets = await (await this.probe(t.name)).read(partitions);
      const replicas = new Map(t.partitions.map((p) => [p.partitionId, [...p.replicas].sort((a, b) => a - b)]));
      return { name: t.name, partitions: offsets.map((o) => ({ ...o, replicas: replicas.get(o.partition) ?? [] })) };
    }));
    return { shown: views.sort((a, b) => a.name.localeCompare(b.name)), omitted: names.length - shown.length };
  }

  /** The newest `perTopic` records of every DLQ topic (name ending `.dlq`), headers and envelopes decoded. */
  async deadLetters(perTopic = 20): Promise<DeadLetterView[]> {
    const admin = await this.kafkaAdmin();
    const dlqs = (await admin.listTopics()).filter((t) => t.endsWith('.dlq')).sort();
    const views: DeadLetterView[] = [];
    for (const topic of dlqs) {
      const offsets = await admin.fetchTopicOffsets(topic);
      const count = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
      if (count === 0) continue;
      const records = await readTopic(this.env, topic, { expected: count, quietMs: 200, timeoutMs: 10_000 });
      const serde = new EnvelopeSerde(new RegistrySchemaSource(this.env.descriptor.schemaRegistry.url), { subject: `${topic.replace(/\.dlq$/, '')}-value` });
      for (const r of records.sort((a, b) => b.timestamp - a.timestamp).slice(0, perTopic)) {
        const view: DeadLetterView = {
          topic, partition: r.partition, offset: r.offset, key: r.key, timestamp: r.timestamp,
          errorClass: r.headers[failureHeaders.errorClass], errorMessage: r.headers[failureHeaders.errorMessage],
          attempts: r.headers[failureHeaders.attempts], originalTopic: r.headers[failureHeaders.originalTopic],
        };
        try {
          view.envelope = await serde.decode(r.value);
        } catch (error) {
          view.undecodable = message(error);
        }
        views.push(view);
      }
    }
    return views;
  }

  /** Every dashboard signal's recorded series over the last `minutes`, from the cluster's Prometheus. */
  async metrics(minutes = 15): Promise<{ available: boolean; reason?: string; series: Array<{ record: string; title: string; unit: string; points: Array<[number, number]> }> }> {
    const url = this.env.descriptor.observability?.prometheusUrl;
    if (!url) return { available: false, reason: 'this cluster runs no Prometheus', series: [] };
    const end = Date.now() / 1000;
    const series = await Promise.all(signals.map(async (s) => {
      const query = new URLSearchParams({ query: s.record, start: String(end - minutes * 60), end: String(end), step: '5' });
      const response = await fetch(`${url}/api/v1/query_range?${query}`, { signal: AbortSignal.timeout(5000) });
      const body = (await response.json()) as { data?: { result?: Array<{ values: Array<[number, string]> }> } };
      // Several series (per group, per topic) are summed into one line: the console shows the trend.
      const sums = new Map<number, number>();
      for (const r of body.data?.result ?? []) for (const [t, v] of r.values) sums.set(t, (sums.get(t) ?? 0) + Number(v));
      return { record: s.record, title: s.title, unit: s.unit, points: [...sums].sort((a, b) => a[0] - b[0]) };
    }));
    return { available: true, series };
  }

  /** Alerts the cluster's Alertmanager holds (active and silenced). */
  async alerts(): Promise<{ available: boolean; alerts: Array<{ name: string; state: string; since: string; summary?: string; labels: Record<string, string> }> }> {
    const url = this.env.descriptor.observability?.alertmanagerUrl;
    if (!url) return { available: false, alerts: [] };
    const response = await fetch(`${url}/api/v2/alerts`, { signal: AbortSignal.timeout(5000) });
    const alerts = (await response.json()) as Array<{ labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; status: { state: string } }>;
    return {
      available: true,
      alerts: alerts.map((a) => ({ name: a.labels.alertname ?? '?', state: a.status.state, since: a.startsAt, ...(a.annotations.summary ? { summary: a.annotations.summary } : {}), labels: a.labels })),
    };
  }

  async close(): Promise<void> {
    const probes = [...this.probes.values()];
    this.probes.clear();
    await Promise.allSettled([
      ...probes.map(async (p) => (await p).close()),
      this.admin?.then((a) => a.disconnect()),
      this.pool?.end(),
    ]);
  }
}
