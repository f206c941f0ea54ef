/**
 * consumer-service: applies wallet events from `topics.events` to the balance projection, exactly once
 * in effect (at-least-once delivery + processed_event dedupe in the projection's transaction), with a
 * notification side effect, cache invalidation, non-blocking retry topics and a DLQ.
 *
 * Offsets (commit = 'after-processing', the default): kafkajs eachBatch with autoCommit off and
 * eachBatchAutoResolve off; records of a partition are processed in order and an offset is resolved and
 * committed only after the DB transaction of its record committed (or the record was handed on).
 *
 * Batches (apply = 'batch', the idempotent default): the records of a fetched batch are decoded and
 * validated first, then applied up to `maxBatchRecords` at a time in ONE DB transaction (processor.ts
 * applyBatch), then ONE offset commit. Per event that is five SQL round trips and one OffsetCommit
 * fewer than one by one; what a crash costs is unchanged in kind: the batch in flight is redelivered and
 * processed_event skips what was applied. A record that fails to decode or validate is handed on (DLQ /
 * retry topic) on its own, after the records before it are applied; a batch that is not the plain case
 * (a duplicate, a version gap, an unknown account, any failed statement) is rolled back and applied one
 * record at a time, where the per-record rules decide (batch_fallbacks_total counts it). Retry topics
 * and the anti-pattern arms (naive, commit before processing: `apply: 'record'`) stay per record: one
 * transaction per record and, by `commitGranularity`, one OffsetCommit per record or per batch.
 * commit = 'before-processing' (E-004 anti-pattern) commits the batch's offsets first and processes
 * afterwards: a crash in between loses the batch.
 *
 * Failures (see errors.ts, failure-routing.ts): poison → DLQ at once; transient → retry topic N with
 * a retry-not-before header, consumed by this same service (same group), which pauses a retry
 * partition until its head record is due (retry-gate.ts). Retry topics trade per-account order for
 * liveness: a retried event is applied after later events of its account. retryTopics = false (the
 * anti-pattern) retries in place with backoff, blocking the partition (and, in kafkajs, the fetch of
 * its whole broker) until it succeeds or goes to the DLQ.
 *
 * Records too large to hand over: a record just below the events topic's size limit plus the failure
 * headers can exceed the DLQ's (or a retry topic's) limit, and the broker rejects the write
 * (MESSAGE_TOO_LARGE). The DLQ then gets a fallback record: a 16 KiB prefix of the value (or none),
 * `lab.dlq.value-truncated: true`, `lab.original.value-bytes`, and the original's topic/partition/offset
 * to re-read it from (failure-routing.ts). A transient failure whose retry-topic write is rejected goes
 * to the DLQ the same way (`lab.retry-rejected`). Only a DLQ that rejects even a bare record stops the
 * consumer, which then fails loudly (below) instead of skipping the record.
 *
 * Failing loudly: a kafkajs crash without restart (a non-retriable error out of the run loop) leaves a
 * live process that consumes nothing. The service logs it at fatal level, answers /health with 503 and
 * resolves `failed`; the process entry (services/main.ts) exits with code 1 so its supervisor sees it.
 */
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { Kafka, logLevel, type EachBatchPayload, type KafkaMessage } from 'kafkajs';
import { createPool } from '../../db/pool.ts';
import { EnvelopeSerde, RegistrySchemaSource } from '../../envelope/index.ts';
import { failpoint } from '../../failpoints/failpoints.ts';
import { createHttpServer, listen } from '../../http/server.ts';
import { eventHeaders, failureHeaders, readHeaders, type KafkaHeaders } from '../../kafka/headers.ts';
import { kafkaLogCreator } from '../../kafka/log.ts';
import { RenewingProducer } from '../../kafka/renewing-producer.ts';
import { createLogger } from '../../observability/logger.ts';
import { ServiceMetrics } from '../../observability/metrics.ts';
import type { RunningService } from '../service.ts';
import { resolveConsumerConfig, type ConsumerConfig } from './config.ts';
import { classifyError, DeadLetterRejectedError, recordTooLargeReason, type Failure } from './errors.ts';
import {
  deadLetterFallback,
  deadLetterFallbacks,
  failureRecordHeaders,
  firstFailureAt,
  previousAttempts,
  retryNotBefore,
  retryWaitMs,
  routeFailure,
  type OutgoingRecord,
} from './failure-routing.ts';
import { consumerMetrics } from './metrics.ts';
import { Notifier } from './notifier.ts';
import { BatchConflict, EventProcessor } from './processor.ts';
import type { EventEnvelope } from '../../envelope/envelope.ts';
import { RetryGate } from './retry-gate.ts';

export type { ConsumerConfig } from './config.ts';

/** How long stop() waits for the Kafka consumer to leave its group cleanly. */
const stopTimeoutMs = 20_000;

// kafkajs warns on every producer about a partitioner change from 2021; the default is what we want.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

export async function startConsumerService(input: ConsumerConfig): Promise<RunningService> {
  const config = resolveConsumerConfig(input);
  const { topics, groupId } = config;
  const logger = createLogger('consumer', config.logLevel);
  const metrics = new ServiceMetrics('consumer');
  const m = consumerMetrics(metrics);

  const pool = createPool(config.mysql);
  const redis = config.redis
    ? new Redis({ host: config.redis.host, port: config.redis.port, ...(config.redis.password ? { password: config.redis.password } : {}), maxRetriesPerRequest: 2 })
    : undefined;
  const processor = new EventProcessor({
    pool,
    serde: new EnvelopeSerde(new RegistrySchemaSource(config.schemaRegistryUrl), {
      subject: `${topics.events}-value`,
      ...(config.envelopeSchemaFile ? { schema: fs.readFileSync(config.envelopeSchemaFile, 'utf8') } : {}),
    }),
    metrics: m,
    logger,
    groupId: config.dedupeGroup ?? groupId,
    mode: config.mode,
    ...(config.notificationUrl ? { notifier: new Notifier(config.notificationUrl, config.mode === 'idempotent') } : {}),
    ...(redis && config.redis ? { cache: { redis, keyPrefix: config.redis.keyPrefix, mode: config.invalidation, ttlMs: config.cacheTtlMs } } : {}),
  });

  const kafka = new Kafka({
    clientId: `consumer-${groupId}`,
    brokers: config.kafka.brokers,
    logLevel: process.env.LAB_KAFKA_LOG === 'debug' ? logLevel.DEBUG : logLevel.ERROR,
    // kafkajs's errors of a normal rebalance or leader move are info, its real errors stay errors (kafka/log.ts).
    logCreator: kafkaLogCreator(logger),
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    retry: { retries: 8, initialRetryTime: 200 },
  });
  // Idempotent producer (acks=-1 implied): a retry/DLQ publish retried after a lost ack is not doubled;
  // replaced after a failed send, so the next hop cannot reuse the failed one's sequence number.
  const producer = new RenewingProducer(() => kafka.producer({ idempotent: true, maxInFlightRequests: 1 }), (error) => logger.warn({ err: error }, 'retry/DLQ publish failed; its producer is replaced before the next publish'));
  const consumer = kafka.consumer({ groupId, sessionTimeout: config.sessionTimeoutMs ?? 10_000, heartbeatInterval: 1000, maxWaitTimeInMs: 250 });
  const gate = new RetryGate();
  const retryLevels = new Map(topics.retry.map((topic, index) => [topic, index + 1]));
  let running = true;
  /** The first attempt of a record whose preparation the batch path already ran. */
  type FirstAttempt = { envelope: EventEnvelope } | { error: unknown };

  // A kafkajs consumer that crashes with a non-retriable error (restart: false) stops fetching every
  // partition while the process lives on: lag frozen, nobody told. That is a failure of the service:
  // it is logged at fatal level, /health answers 503 and `failed` resolves, on which the process entry
  // exits with code 1 so its supervisor sees it. Retriable crashes kafkajs restarts by itself.
  let failure: Error | undefined;
  let markFailed!: (error: Error) => void;
  const failed = new Promise<Error>((resolve) => (markFailed = resolve));
  const fail = (error: unknown, what: string) => {
    if (failure || !running) return;
    failure = error instanceof Error ? error : new Error(String(error));
    logger.fatal({ err: failure, groupId }, `${what}: no partition is consumed any more, the service has failed`);
    markFailed(failure);
  };
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    m.groupJoins.inc();
    logger.info({ groupId, memberId: event.payload.memberId, assignment: event.payload.memberAssignment }, 'joined the consumer group');
  });
  consumer.on(consumer.events.CRASH, (event) => {
    if (!event.payload.restart) fail(event.payload.error, 'kafka consumer crashed and will not restart');
  });

  async function send(topic: string, record: OutgoingRecord): Promise<void> {
    await producer.send(topic, { key: record.key, value: record.value, headers: record.headers });
  }

  /**
   * Writes a dead letter. When the DLQ rejects it as too large (the original was just below the events
   * topic's limit and the failure headers pushed it over, or the DLQ's limit is smaller), writes the
   * smaller fallbacks of failure-routing.ts instead: a poison record of any size reaches the DLQ and
   * never stops the partition. Returns the fallback's reason, or undefined when the full record went.
   */
  async function sendDeadLetter(record: OutgoingRecord, log: typeof logger): Promise<string | undefined> {
    let rejected: unknown;
    try {
      await send(topics.dlq, record);
      return undefined;
    } catch (error) {
      if (!recordTooLargeReason(error)) throw error;
      rejected = error;
    }
    for (const limits of deadLetterFallbacks) {
      const reason = recordTooLargeReason(rejected)!;
      const fallback = deadLetterFallback(record, reason, limits);
      try {
        await send(topics.dlq, fallback);
        m.dlqFallbacks.inc({ reason });
        log.warn({ reason, valueBytes: record.value?.length ?? 0, keptValueBytes: fallback.value?.length ?? 0, dropped: fallback.headers[failureHeaders.headersDropped] }, 'DLQ rejected the dead letter as too large; wrote a truncated fallback that names the original offset');
        return reason;
      } catch (error) {
        if (!recordTooLargeReason(error)) throw error;
        rejected = error;
      }
    }
    throw new DeadLetterRejectedError(`the DLQ ${topics.dlq} rejects even a bare dead letter (${recordTooLargeReason(rejected)}): check its max.message.bytes`, { cause: rejected });
  }

  /** Sleeps `ms` in slices, heartbeating so the group keeps the (blocked) member. In-place retry only. */
  async function blockingBackoff(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    const until = Date.now() + ms;
    while (running && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, until - Date.now())));
      await heartbeat().catch(() => undefined);
    }
  }

  /**
   * Processes one record to its end: applied, skipped as duplicate, or handed on (retry topic / DLQ).
   * Throws only when that hand-over itself fails (Kafka unreachable): then the offset is not committed
   * and kafkajs redelivers the record.
   */
  async function handleRecord(topic: string, partition: number, message: KafkaMessage, heartbeat: () => Promise<void>, first?: FirstAttempt): Promise<void> {
    const headers = readHeaders(message.headers as Record<string, unknown>);
    const log = logger.child({ eventId: headers[eventHeaders.eventId], traceId: headers[eventHeaders.traceId], topic, partition, offset: message.offset });
    let attempts = previousAttempts(headers);
    let firstFailure: number | undefined;
    for (;;) {
      let failure: Failure;
      try {
        // The batch path already ran the first attempt's preparation (its failpoints included): go on
        // from its result instead of evaluating them a second time for the same attempt.
        const given = first;
        first = undefined;
        if (given && 'error' in given) throw given.error;
        if (given) await processor.apply(given.envelope);
        else {
          await failpoint('consumer.before-process');
          await processor.process(message.value);
        }
        return;
      } catch (error) {
        failure = classifyError(error);
      }
      attempts += 1;
      firstFailure ??= firstFailureAt(headers, Date.now());
      m.failures.inc({ kind: failure.kind });
      log.warn({ attempts, errorClass: failure.errorClass, kind: failure.kind, reason: failure.message }, 'processing failed');

      if (!config.retryTopics) {
        // Anti-pattern: the partition waits while this record is retried.
        if (failure.kind === 'transient' && attempts < config.maxAttempts) {
          m.retries.inc({ level: 'in-place' });
          const delays = topics.retryDelaysMs;
          await blockingBackoff(delays[Math.min(attempts, delays.length) - 1] ?? 1000, heartbeat);
          if (!running) throw new Error('consumer stopping during an in-place retry; the record will be redelivered');
          continue;
        }
        await toDlq(failure);
        return;
      }
      const route = routeFailure({ failure, attempts, maxAttempts: config.maxAttempts, topics });
      if (route.action === 'retry') {
        const now = Date.now();
        const retryHeaders = failureRecordHeaders({ topic, partition, offset: message.offset, headers }, failure, attempts, firstFailure, groupId, retryNotBefore(now, route.delayMs));
        try {
          await send(route.topic, { key: message.key, value: message.value, headers: retryHeaders });
        } catch (error) {
          // A retry record must carry the whole value: one the retry topic rejects as too large can
          // never be retried there, so it goes to the DLQ (as a fallback if need be) and says why.
          const reason = recordTooLargeReason(error);
          if (!reason) throw error;
          log.warn({ attempts, to: route.topic, reason, valueBytes: message.value?.length ?? 0 }, 'retry topic rejected the record as too large; sending it to the DLQ instead');
          await toDlq(failure, { [failureHeaders.retryRejected]: reason });
          return;
        }
        m.retries.inc({ level: `retry-${route.level}` });
        log.info({ attempts, to: route.topic }, 'sent to retry topic');
      } else {
        await toDlq(failure);
      }
      return;
    }

    async function toDlq(failure: Failure, extra: KafkaHeaders = {}): Promise<void> {
      const deadHeaders = { ...failureRecordHeaders({ topic, partition, offset: message.offset, headers }, failure, attempts, firstFailure!, groupId), ...extra };
      const fallback = await sendDeadLetter({ key: message.key, value: message.value, headers: deadHeaders }, log);
      m.dlq.inc({ error_class: failure.errorClass });
      log.warn({ attempts, errorClass: failure.errorClass, ...(fallback ? { fallback } : {}) }, 'sent to DLQ');
    }
  }

  function commit(payload: EachBatchPayload, offset: string): Promise<void> {
    const { topic, partition } = payload.batch;
    // The committed offset is the *next* record to read.
    return payload.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: (BigInt(offset) + 1n).toString() }] }] });
  }

  /** Resolves and commits through `offset` once the records up to it are done (applied or handed on). */
  async function done(payload: EachBatchPayload, offset: string, records: number): Promise<void> {
    payload.resolveOffset(offset);
    for (let i = 0; i < records; i += 1) await failpoint('consumer.after-db-commit-before-offset-commit');
    await commit(payload, offset);
    m.lag.set({ topic: payload.batch.topic, partition: String(payload.batch.partition) }, Math.max(0, Number(payload.batch.highWatermark) - Number(offset) - 1));
    await payload.heartbeat();
  }

  /**
   * apply = 'batch': prepare each record (decode, validate), apply runs of prepared records in one
   * transaction each, hand a record that failed preparation on by itself (after the run before it, so
   * a partition's order holds), and fall back to one by one for a run the batch transaction refused.
   */
  async function applyInBatches(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    let run: Array<{ message: KafkaMessage; envelope: EventEnvelope }> = [];
    const flush = async () => {
      const records = run;
      run = [];
      if (!records.length) return;
      try {
        await processor.applyBatch(records.map((record) => record.envelope));
      } catch (error) {
        const reason = error instanceof BatchConflict ? 'conflict' : 'error';
        m.batchFallbacks.inc({ reason });
        logger[reason === 'conflict' ? 'debug' : 'warn']({ topic: batch.topic, partition: batch.partition, records: records.length, err: error }, 'batch not applied as one transaction; applying its records one by one');
        for (const record of records) await handleRecord(batch.topic, batch.partition, record.message, payload.heartbeat, { envelope: record.envelope });
      }
      await done(payload, records.at(-1)!.message.offset, records.length);
    };
    for (const message of batch.messages) {
      // Stopping or rebalanced away: what is not applied yet stays uncommitted and is fetched again.
      if (!running || !payload.isRunning() || payload.isStale()) return;
      let envelope: EventEnvelope;
      try {
        await failpoint('consumer.before-process');
        envelope = await processor.prepare(message.value);
      } catch (error) {
        await flush();
        await handleRecord(batch.topic, batch.partition, message, payload.heartbeat, { error });
        await done(payload, message.offset, 1);
        continue;
      }
      run.push({ message, envelope });
      if (run.length >= config.maxBatchRecords) await flush();
      // Throws when the group rebalances meanwhile: the gathered records are fetched again (E-018).
      else if (config.heartbeat === 'record') await payload.heartbeat();
    }
    if (running && payload.isRunning() && !payload.isStale()) await flush();
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    const isRetryTopic = retryLevels.has(batch.topic);
    if (config.apply === 'batch' && !isRetryTopic) return applyInBatches(payload);
    if (config.commit === 'before-processing') {
      await commit(payload, batch.messages[batch.messages.length - 1]!.offset);
      await failpoint('consumer.after-offset-commit-before-process');
    }
    let lastDone: string | undefined;
    for (const message of batch.messages) {
      if (!running || !payload.isRunning() || payload.isStale()) break;
      if (isRetryTopic) {
        const waitMs = retryWaitMs(readHeaders(message.headers as Record<string, unknown>), Date.now());
        if (waitMs > 0) {
          // Not due: hold this partition back and stop here; the record (not resolved) is fetched again on resume.
          gate.holdFor(payload.pause, waitMs);
          break;
        }
      }
      await handleRecord(batch.topic, batch.partition, message, payload.heartbeat);
      payload.resolveOffset(message.offset);
      lastDone = message.offset;
      if (config.commit === 'after-processing' && config.commitGranularity === 'record') {
        await failpoint('consumer.after-db-commit-before-offset-commit');
        await commit(payload, message.offset);
      }
      m.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Math.max(0, Number(batch.highWatermark) - Number(message.offset) - 1));
      await payload.heartbeat();
    }
    if (config.commit === 'after-processing' && config.commitGranularity === 'batch' && lastDone !== undefined) {
      await failpoint('consumer.after-db-commit-before-offset-commit');
      await commit(payload, lastDone);
    }
  }

  const app = createHttpServer({ metrics, logger, failure: () => failure && `consumer crashed: ${failure.message}` });
  app.get('/status', async () => ({ groupId, mode: config.mode, commit: config.commit, apply: config.apply, retryTopics: config.retryTopics, heldRetryPartitions: gate.held() }));

  try {
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topics: config.retryTopics ? [topics.events, ...topics.retry] : [topics.events], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.partitionsConsumedConcurrently,
      eachBatch,
    });
  } catch (error) {
    await Promise.allSettled([consumer.disconnect(), producer.disconnect(), pool.end(), redis?.quit()]);
    throw error;
  }
  const url = await listen(app, config.httpPort ?? 0);
  logger.info({ groupId, url, mode: config.mode, commit: config.commit }, 'consumer-service started');

  let stopped: Promise<void> | undefined;
  return {
    name: 'consumer',
    url,
    metrics,
    failed,
    stop: () =>
      (stopped ??= (async () => {
        running = false;
        gate.close();
        // The consumer first: it finishes the batch in flight (whose records may still publish).
        // Bounded: kafkajs's disconnect waits for its fetch loops, and a fetch loop stuck in the library
        // must not hang the stop forever. Anything uncommitted is redelivered (and deduped) later.
        const disconnected = consumer.disconnect().then(
          () => true,
          (error: unknown) => {
            logger.warn({ err: error }, 'consumer disconnect failed');
            return true;
          },
        );
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), stopTimeoutMs)));
        if (!(await Promise.race([disconnected, timedOut]))) logger.error({ groupId, stopTimeoutMs }, 'consumer did not disconnect in time; closing the rest anyway');
        clearTimeout(timer);
        await producer.disconnect().catch((error: unknown) => logger.warn({ err: error }, 'producer disconnect failed'));
        await Promise.allSettled([pool.end(), redis?.quit(), app.close()]);
      })()),
  };
}
