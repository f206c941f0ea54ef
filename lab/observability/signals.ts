/**
 * The signals an on-call engineer of the wallet ledger watches, each written once as PromQL.
 *
 *   import { signals } from './signals.ts';
 *   signals.find((s) => s.record === 'lab:outbox_oldest_age_seconds:max')!.expr
 *   // → 'max(lab_outbox_oldest_age_seconds)'
 *
 * Every signal is both a dashboard panel (dashboards.ts) and a recording rule (rules.ts), so the PromQL
 * a panel draws is the PromQL `promtool check rules` validates, and alerts (infra/observability/
 * prometheus/alerts.yml) are written on the recorded series.
 *
 * Where a signal comes from decides what it is worth during a fault. The outbox backlog and consumer lag
 * are read from outside the services, by the lab's exporter (plain SQL, Kafka's admin API): a relay that
 * is killed stops exporting its own `outbox_oldest_age_seconds`, which is exactly when the age matters.
 *
 *   lab_*                         the lab's exporter (lab/observability/exporter.ts)
 *   mysql_*                       prometheus-mysqld-exporter
 *   redis_*                       prometheus-redis-exporter
 *   kafka_server_*                the JMX exporter agent in each broker (jmx-exporter.yml)
 *   relay_*, cache_*, dlq_* …     the services' own prom-client registries
 */

export interface Signal {
  /** The recording rule's name: level:metric:operations (Prometheus naming practice). */
  record: string;
  title: string;
  /** What a person reads from it, shown as the panel's description. */
  description: string;
  expr: string;
  /** Grafana unit id. */
  unit: 'short' | 's' | 'ops' | 'percentunit' | 'reqps';
  /** Series label for the panel's legend. */
  legend?: string;
  row: 'Outbox and relay' | 'Consumers' | 'Cache' | 'Database' | 'Kafka brokers';
}

const rate = (metric: string, by = '') => `sum${by ? ` by (${by})` : ''}(rate(${metric}[1m]))`;

export const signals: readonly Signal[] = [
  {
    record: 'lab:outbox_backlog:sum', row: 'Outbox and relay', title: 'Outbox backlog', unit: 'short',
    description: 'Outbox rows not yet published, counted with SQL by the lab exporter. Grows when the relay is down or Kafka refuses writes.',
    expr: 'sum(lab_outbox_backlog)',
  },
  {
    record: 'lab:outbox_oldest_age_seconds:max', row: 'Outbox and relay', title: 'Oldest unpublished outbox row', unit: 's',
    description: 'Age of the oldest unpublished outbox row: how late the newest effects are at best.',
    expr: 'max(lab_outbox_oldest_age_seconds)',
  },
  {
    record: 'lab:relay_published:rate1m', row: 'Outbox and relay', title: 'Relay publish rate', unit: 'ops',
    description: 'Events the relays published and marked, per second.',
    expr: rate('relay_published_total'),
  },
  {
    record: 'lab:consumergroup_lag:sum', row: 'Consumers', title: 'Consumer lag per group and partition', unit: 'short',
    description: 'Records between the group\'s committed offset and the partition\'s last stable offset (what a read_committed consumer can still read).',
    expr: 'sum by (group, topic, partition) (lab_consumergroup_lag)', legend: '{{group}} {{topic}}/{{partition}}',
  },
  {
    record: 'lab:dlq_records:rate1m', row: 'Consumers', title: 'Dead letters per second', unit: 'ops',
    description: 'Records written to the DLQ topics, from their end offsets (not the consumer\'s own count).',
    expr: rate('lab_topic_end_offset{topic=~".+\\\\.dlq"}', 'topic'), legend: '{{topic}}',
  },
  {
    record: 'lab:retry_records:rate1m', row: 'Consumers', title: 'Retry-topic traffic', unit: 'ops',
    description: 'Records written to the retry topics per second: failures that are being retried.',
    expr: rate('lab_topic_end_offset{topic=~".+\\\\.retry-[0-9]+"}', 'topic'), legend: '{{topic}}',
  },
  {
    record: 'lab:cache_hit_ratio:rate1m', row: 'Cache', title: 'Cache hit ratio', unit: 'percentunit',
    description: 'Balance reads answered by a fresh cache entry, over all reads.',
    expr: `${rate('cache_hits_total')} / clamp_min(${rate('cache_hits_total')} + ${rate('cache_misses_total')}, 1e-9)`,
  },
  {
    record: 'lab:cache_misses:rate1m', row: 'Cache', title: 'Cache misses per second', unit: 'ops',
    description: 'Reads that went past the cache. A surge after an expiry or a Redis outage is a stampede on the database.',
    expr: rate('cache_misses_total'),
  },
  {
    record: 'lab:mysql_queries:rate1m', row: 'Database', title: 'Database queries per second', unit: 'ops',
    description: 'Statements MariaDB executed (Questions), from the mysqld exporter.',
    expr: rate('mysql_global_status_questions'),
  },
  {
    record: 'lab:mysql_connections:ratio', row: 'Database', title: 'Database connections used', unit: 'percentunit',
    description: 'Connected threads over max_connections. Near 1, new connections are refused.',
    expr: 'max(mysql_global_status_threads_connected) / max(mysql_global_variables_max_connections)',
  },
  {
    record: 'lab:kafka_isr_shrinks:rate5m', row: 'Kafka brokers', title: 'ISR shrinks per second', unit: 'ops',
    description: 'Replicas dropped from an in-sync replica set, per broker: a broker or link is slow or down.',
    expr: 'sum by (instance) (rate(kafka_server_replicamanager_isrshrinks_total[5m]))', legend: '{{instance}}',
  },
  {
    record: 'lab:kafka_under_min_isr_partitions:sum', row: 'Kafka brokers', title: 'Partitions under min.insync.replicas', unit: 'short',
    description: 'Partitions whose ISR is below min.insync.replicas: producers with acks=all are refused there.',
    expr: 'sum(kafka_server_replicamanager_underminisrpartitioncount)',
  },
];
