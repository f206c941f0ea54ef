/**
 * backfill: rebuilds the balance projection from the events topic into `backfill_balance` (job by job)
 * while the live pipeline runs — E-022.
 *
 *   uncontrolled  the mass replay (E-022's ❌ arm): every partition at once, as fast as records arrive,
 *                 chunks of 50 events as two multi-row statements (autocommitted), `parallelism` chunks at
 *                 once per partition; progress kept nowhere: a restart reads from offset 0 again and
 *                 applies everything once more.
 *   controlled    sharded by partition (one at a time), batched (`batchSize` events per transaction),
 *                 rate-limited (`ratePerSecond`), and checkpointed: a batch's effects, its applied-log rows
 *                 and the partition's next offset commit in ONE transaction, so a crash anywhere leaves
 *                 either the whole batch and its checkpoint or neither. A restart reads the checkpoints
 *                 and starts each partition there (records below it are skipped even if kafkajs fetches
 *                 them: the seek is an optimisation, the filter is the guarantee).
 * Snapshot + tail: at start the job takes each partition's end offset (the snapshot); `backfill_snapshot_lag`
 * counts what is left of it, and the job then goes on tailing live events, so the rebuilt projection
 * catches up with the live one and can be switched to.
 *
 * Group offsets are never committed (the checkpoints are the progress); the group id is per job.
 * Metrics: backfill_applied_total, backfill_resumed_from (sum of the offsets this life started at),
 * backfill_snapshot_end, backfill_snapshot_lag, backfill_position. Failpoints: backfill.after-batch
 * (uncontrolled, after a fetched batch), backfill.after-checkpoint (controlled, after a committed batch).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { CommonConfig } from '../../config.ts';
import { createPool } from '../../db/pool.ts';
import type { EventEnvelope } from '../../envelope/envelope.ts';
import { EnvelopeSerde, RegistrySchemaSource } from '../../envelope/index.ts';
import { failpoint } from '../../failpoints/index.ts';
import { createHttpServer, listen } from '../../http/server.ts';
import { kafkaLogCreator } from '../../kafka/log.ts';
import { createLogger } from '../../observability/logger.ts';
import { ServiceMetrics } from '../../observability/metrics.ts';
import type { RunningService } from '../service.ts';

export interface BackfillConfig extends CommonConfig {
  jobId: string;
  mode: 'uncontrolled' | 'controlled';
  /** controlled: events per transaction (default 100). */
  batchSize?: number;
  /** controlled: events per second (default 500). */
  ratePerSecond?: number;
  /** uncontrolled: chunks of 50 events applied at once per partition (default 8). */
  parallelism?: number;
}

const deltaOf = (e: EventEnvelope): number => {
  const p = e.payload;
  if (p.type === 'FundsDeposited' || p.type === 'TransferCredited') return p.amount;
  if (p.type === 'FundsWithdrawn' || p.type === 'TransferDebited') return -p.amount;
  return 0;
};

export async function startBackfill(config: BackfillConfig): Promise<RunningService> {
  if (config.mode !== 'uncontrolled' && config.mode !== 'controlled') throw new Error(`backfill: mode must be 'uncontrolled' or 'controlled', got '${String(config.mode)}'`);
  const batchSize = config.batchSize ?? 100;
  const ratePerSecond = config.ratePerSecond ?? 500;
  const parallelism = config.parallelism ?? 8;
  const logger = createLogger('backfill', config.logLevel);
  const metrics = new ServiceMetrics('backfill');
  const applied = metrics.counter('backfill_applied_total', 'Events applied to the rebuilt projection');
  const resumedFrom = metrics.gauge('backfill_resumed_from', 'Sum over partitions of the offset this life started at');
  const snapshotEnd = metrics.gauge('backfill_snapshot_end', 'Sum over partitions of the end offsets taken at start');
  const snapshotLag = metrics.gauge('backfill_snapshot_lag', 'Events of the snapshot not applied yet');
  const position = metrics.gauge('backfill_position', 'Sum over partitions of the next offset to apply');
  const pool = createPool(config.mysql, config.mode === 'uncontrolled' ? 6 * parallelism : 2);
  const serde = new EnvelopeSerde(new RegistrySchemaSource(config.schemaRegistryUrl), { subject: `${config.topics.events}-value` });
  const topic = config.topics.events;
  const kafka = new Kafka({ clientId: `backfill-${config.jobId}`, brokers: config.kafka.brokers, logLevel: logLevel.ERROR, logCreator: kafkaLogCreator(logger) });

  // The snapshot, and where this life starts: the checkpoints (controlled) or nothing (uncontrolled: 0).
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  await admin.disconnect();
  const next = new Map<number, number>([...ends.keys()].map((p) => [p, 0]));
  if (config.mode === 'controlled') {
    const [rows] = await pool.query<RowDataPacket[]>('SELECT topic_partition, next_offset FROM backfill_checkpoint WHERE job_id = ?', [config.jobId]);
    for (const row of rows) next.set(Number(row.topic_partition), Number(row.next_offset));
  }
  const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);
  const report = () => {
    position.set(sum(next.values()));
    snapshotLag.set(sum([...ends].map(([p, end]) => Math.max(0, end - (next.get(p) ?? 0)))));
  };
  resumedFrom.set(sum(next.values()));
  snapshotEnd.set(sum(ends.values()));
  report();

  const effects = (e: EventEnvelope): Array<[string, unknown[]]> => [
    ['INSERT INTO backfill_balance (job_id, account_id, balance, version) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE balance = balance + VALUES(balance), version = GREATEST(version, VALUES(version))', [config.jobId, e.aggregateId, deltaOf(e), e.aggregateVersion]],
    ['INSERT INTO backfill_applied_log (job_id, event_id) VALUES (?, ?)', [config.jobId, e.eventId]],
  ];
  const decode = (messages: KafkaMessage[]) => Promise.all(messages.map((m) => serde.decode(m.value!)));

  let nextSlot = performance.now();
  /** One transaction: the batch's effects and the partition's checkpoint. */
  async function applyBatch(partition: number, messages: KafkaMessage[]): Promise<void> {
    const events = await decode(messages);
    const nextOffset = Number(messages.at(-1)!.offset) + 1;
    const wait = nextSlot - performance.now();
    if (wait > 0) await sleep(wait);
    nextSlot = Math.max(nextSlot, performance.now()) + (messages.length * 1000) / ratePerSecond;
    const connection: PoolConnection = await pool.getConnection();
    try {
      await connection.beginTransaction();
      for (const e of events) for (const [sql, params] of effects(e)) await connection.query(sql, params);
      await connection.query('INSERT INTO backfill_checkpoint (job_id, topic_partition, next_offset) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE next_offset = VALUES(next_offset)', [config.jobId, partition, nextOffset]);
      await connection.commit();
    } catch (error) {
      await connection.rollback().catch(() => undefined);
      throw error;
    } finally {
      connection.release();
    }
    next.set(partition, nextOffset);
    applied.inc(events.length);
    report();
    await failpoint('backfill.after-checkpoint');
  }

  const consumer = kafka.consumer({ groupId: `${topic}.backfill.${config.jobId}`, sessionTimeout: 10_000, heartbeatInterval: 1000, ...(config.mode === 'uncontrolled' ? { maxBytesPerPartition: 10 * 1024 * 1024, maxBytes: 50 * 1024 * 1024 } : {}) });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: config.mode === 'uncontrolled' ? ends.size : 1,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      const from = next.get(batch.partition) ?? 0;
      const messages = batch.messages.filter((m) => Number(m.offset) >= from && m.value);
      if (config.mode === 'uncontrolled') {
        const chunks = Array.from({ length: Math.ceil(messages.length / 50) }, (_, i) => messages.slice(i * 50, i * 50 + 50));
        for (let i = 0; i < chunks.length; i += parallelism) {
          await Promise.all(chunks.slice(i, i + parallelism).map(async (chunk) => {
            const events = (await decode(chunk)).sort((a, b) => a.aggregateId.localeCompare(b.aggregateId) || a.aggregateVersion - b.aggregateVersion);
            await pool.query('INSERT INTO backfill_applied_log (job_id, event_id) VALUES ?', [events.map((e) => [config.jobId, e.eventId])]);
            await pool.query('INSERT INTO backfill_balance (job_id, account_id, balance, version) VALUES ? ON DUPLICATE KEY UPDATE balance = balance + VALUES(balance), version = GREATEST(version, VALUES(version))', [events.map((e) => [config.jobId, e.aggregateId, deltaOf(e), e.aggregateVersion])]);
            applied.inc(events.length);
          }));
        }
        if (messages.length) next.set(batch.partition, Number(messages.at(-1)!.offset) + 1);
        report();
        await failpoint('backfill.after-batch');
        if (batch.messages.length) resolveOffset(batch.lastOffset());
      } else {
        let done = 0;
        for (; done < messages.length && isRunning() && !isStale(); done += batchSize) {
          const chunk = messages.slice(done, done + batchSize);
          await applyBatch(batch.partition, chunk);
          resolveOffset(chunk.at(-1)!.offset);
          await heartbeat();
        }
        if (done >= messages.length && batch.messages.length) resolveOffset(batch.lastOffset());
      }
    },
  });
  // Start each partition at its checkpoint (the filter above holds whether or not the seek lands first).
  for (const [partition, offset] of next) if (offset > 0) consumer.seek({ topic, partition, offset: String(offset) });

  const app = createHttpServer({ metrics, logger });
  const url = await listen(app, config.httpPort ?? 0);
  logger.info({ url, jobId: config.jobId, mode: config.mode, resumedFrom: sum(next.values()), snapshotEnd: sum(ends.values()) }, 'backfill started');
  let stopping: Promise<void> | undefined;
  return {
    name: 'backfill',
    url,
    metrics,
    stop: () => (stopping ??= (async () => {
      await consumer.disconnect().catch(() => undefined);
      await app.close();
      await pool.end().catch(() => undefined);
    })()),
  };
}
