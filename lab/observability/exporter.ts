/**
 * The lab's own exporter (a Node process `lab up` starts, like a service: stack.ts), for the signals
 * that must be read from outside the services, because a killed relay or a stopped consumer stops
 * exporting its own numbers exactly when they matter:
 *
 *   lab_outbox_backlog{database}              unpublished outbox rows, plain SQL over every database
 *                                             that has an outbox_event table (one database per arena)
 *   lab_outbox_oldest_age_seconds{database}   age of the oldest of them (0 when there is none)
 *   lab_consumergroup_lag{group,topic,partition}
 *                                             last stable offset − the group's committed offset: what a
 *                                             read_committed consumer still has to read (ListOffsets with
 *                                             isolation level 1; kafkajs's admin cannot ask for it)
 *   lab_topic_end_offset{topic,partition}     high watermark (isolation level 0): records written, for rates
 *   lab_exporter_errors_total{source}         refreshes that failed (kafka, mysql)
 *
 * Kafka is asked over the brokers' INTERNAL listeners, MariaDB on its own port: no Toxiproxy link is in
 * the way, so a link fault an experiment injects does not blind the exporter. Values are refreshed every
 * 2 s (Prometheus scrapes every 5 s); a source that fails keeps no stale values (its series go away).
 */
import http from 'node:http';
import { Admin } from '@platformatic/kafka';
import mysql from 'mysql2/promise';
import { Counter, Gauge, Registry } from 'prom-client';
import { outboxBacklogs } from '../observe/outbox-backlog.ts';
import type { LabExporterConfig } from './stack.ts';

export interface GroupLag {
  group: string;
  topic: string;
  partition: number;
  lag: number;
}

/**
 * Lag per committed partition: LSO − committed, never negative (a commit can be read before the LSO
 * it passed). Partitions without a commit (−1) or without a known LSO are left out: there is no lag to say.
 */
export function consumerLag(
  committed: Array<{ group: string; topic: string; partition: number; offset: number }>,
  lso: Map<string, number>,
): GroupLag[] {
  return committed.flatMap(({ group, topic, partition, offset }) => {
    const stable = lso.get(`${topic}/${partition}`);
    if (offset < 0 || stable === undefined) return [];
    return [{ group, topic, partition, lag: Math.max(0, stable - offset) }];
  });
}

/** Topics the exporter measures: the lab's own, not Kafka's internal ones. */
export const measuredTopic = (topic: string) => !topic.startsWith('__');

/** Committed offsets of every group, the LSO and HW of every lab topic's partitions. */
export async function readKafka(admin: Admin): Promise<{ lag: GroupLag[]; ends: Array<{ topic: string; partition: number; offset: number }> }> {
  const topics = (await admin.listTopics({ includeInternals: false })).filter(measuredTopic);
  if (topics.length === 0) return { lag: [], ends: [] };
  const metadata = await admin.metadata({ topics, forceUpdate: true });
  const request = [...metadata.topics].map(([name, topic]) => ({
    name,
    partitions: Array.from({ length: topic.partitionsCount }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n })),
  }));
  const [stable, high] = await Promise.all([admin.listOffsets({ topics: request, isolationLevel: 1 }), admin.listOffsets({ topics: request, isolationLevel: 0 })]);
  const lso = new Map(stable.flatMap((t) => t.partitions.map((p) => [`${t.name}/${p.partitionIndex}`, Number(p.offset)] as const)));
  const groups = [...(await admin.listGroups()).keys()];
  const committed = groups.length
    ? (await admin.listConsumerGroupOffsets({ groups })).flatMap((g) =>
        g.topics.filter((t) => measuredTopic(t.name)).flatMap((t) => t.partitions.map((p) => ({ group: g.groupId, topic: t.name, partition: p.partitionIndex, offset: Number(p.committedOffset) }))),
      )
    : [];
  return {
    lag: consumerLag(committed, lso),
    ends: high.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, offset: Number(p.offset) }))),
  };
}

async function main(): Promise<void> {
  const raw = process.env.LAB_EXPORTER_CONFIG;
  if (!raw) throw new Error('LAB_EXPORTER_CONFIG is not set');
  const config = JSON.parse(raw) as LabExporterConfig;
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: [registry] });
  const backlog = gauge('lab_outbox_backlog', 'Unpublished outbox rows (SQL)', ['database']);
  const age = gauge('lab_outbox_oldest_age_seconds', 'Age of the oldest unpublished outbox row (SQL)', ['database']);
  const lag = gauge('lab_consumergroup_lag', 'Last stable offset minus the committed offset (ListOffsets read_committed)', ['group', 'topic', 'partition']);
  const end = gauge('lab_topic_end_offset', 'High watermark (ListOffsets read_uncommitted)', ['topic', 'partition']);
  const errors = new Counter({ name: 'lab_exporter_errors_total', help: 'Refreshes that failed', labelNames: ['source'], registers: [registry] });
  const pool = mysql.createPool({ ...config.mysql, connectionLimit: 2, connectTimeout: 2000 });
  const newAdmin = () => new Admin({ clientId: 'lab-exporter', bootstrapBrokers: config.brokers, connectTimeout: 2000, requestTimeout: 3000, retries: 1, retryDelay: 200, metadataMaxAge: 5000 });
  // Started beside Kafka, before it listens: an admin whose first metadata failed kept failing ("metadata
  // failed 2 times" minutes after the brokers were up), so a failed refresh gets a fresh client.
  let admin = newAdmin();

  const refreshMysql = async () => {
    try {
      const rows = await outboxBacklogs(pool);
      backlog.reset();
      age.reset();
      for (const row of rows) {
        backlog.set({ database: row.database }, row.backlog);
        age.set({ database: row.database }, row.oldestAgeSeconds);
      }
    } catch (error) {
      errors.inc({ source: 'mysql' });
      backlog.reset();
      age.reset();
      console.error(`mysql: ${String(error)}`);
    }
  };
  const refreshKafka = async () => {
    try {
      const read = await readKafka(admin);
      lag.reset();
      end.reset();
      for (const row of read.lag) lag.set({ group: row.group, topic: row.topic, partition: String(row.partition) }, row.lag);
      for (const row of read.ends) end.set({ topic: row.topic, partition: String(row.partition) }, row.offset);
    } catch (error) {
      errors.inc({ source: 'kafka' });
      lag.reset();
      end.reset();
      console.error(`kafka: ${String(error)}`);
      const failed = admin;
      admin = newAdmin();
      await failed.close().catch(() => undefined);
    }
  };

  let stopping = false;
  const loop = async () => {
    while (!stopping) {
      await Promise.all([refreshMysql(), refreshKafka()]);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  };
  const server = http.createServer((request, response) => {
    if (request.url !== '/metrics') return void response.writeHead(404).end();
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(config.port, '127.0.0.1', resolve));
  console.log(`lab exporter on http://127.0.0.1:${config.port}/metrics`);
  void loop();
  const stop = async () => {
    stopping = true;
    server.close();
    await Promise.allSettled([pool.end(), admin.close()]);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  });
}
