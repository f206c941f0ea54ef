/**
 * outbox-relay: publishes the outbox rows the command-service committed, in order, to `topics.events`.
 *
 * `concurrency` workers (default 4) publish at once, each with its own MySQL session and its own
 * producer, so one batch's SQL overlaps another's publish (one worker alone leaves the database idle
 * while Kafka acknowledges, and Kafka idle while the database locks and marks). A worker is to the
 * other workers exactly what another relay is: the shard lease below keeps one shard to one worker at a
 * time, so an aggregate's batches still reach Kafka one after the other, in order. Separate producers,
 * not one shared: kafkajs's idempotent producer is not safe for concurrent sends (its sequence numbers
 * are per producer and partition), and a failed batch discards only its own worker's producer.
 *
 * A worker's pass visits every shard with pending rows, starting at an offset that rotates (random at
 * start, so workers and relays do not all begin with shard 0). Per shard:
 *   GET_LOCK(shard, 0)                 lease the shard or skip it (another relay is on it)
 *   START TRANSACTION
 *   SELECT … FOR UPDATE SKIP LOCKED    the shard's oldest unpublished rows, by id
 *   failpoint relay.before-publish
 *   producer.send(all rows, in order)  one send, acks=-1 (idempotent producer by default)
 *   failpoint relay.after-publish-before-mark
 *   UPDATE … SET published_at          the same rows
 *   COMMIT
 *   failpoint relay.after-mark
 *   RELEASE_LOCK
 * Delivery is at-least-once by construction: a crash between the send's ack and COMMIT publishes the
 * batch again (E-003; consumers dedupe by event id). It is never at-most-once: rows are marked only after
 * Kafka acknowledged them — every partition of the batch, checked against the send's response, not
 * only "send() resolved" (see EventPublisher: kafkajs can resolve a send that skipped a partition), and
 * never an acknowledgement the broker gave a batch it took for a duplicate of an earlier one (kafkajs can
 * rewind an idempotent producer's sequence numbers after a retried send: E-001 lost v22 so).
 *
 * A failed batch (Kafka down, registry down, failpoint) is rolled back, its rows get attempts + 1 and
 * last_error, and only that shard backs off (exponential, full jitter); the others keep going, so the
 * backlog grows while Kafka is away and drains when it is back. The publisher is replaced after a
 * failure so a new attempt starts from a clean producer.
 */
import { randomUUID } from 'node:crypto';
import type { RecordMetadata, RetryOptions } from 'kafkajs';
import type { CommonConfig } from '../../config.ts';
import { createPool } from '../../db/pool.ts';
import type { EventEnvelope } from '../../envelope/envelope.ts';
import { EnvelopeSerde, RegistrySchemaSource } from '../../envelope/index.ts';
import { failpoint } from '../../failpoints/index.ts';
import { createHttpServer, listen } from '../../http/server.ts';
import { DuplicateAcknowledgementError, EventPublisher, UnacknowledgedPartitionsError, type OutgoingEvent } from '../../kafka/event-publisher.ts';
import { eventHeaders, type KafkaHeaders } from '../../kafka/headers.ts';
import { createLogger } from '../../observability/logger.ts';
import { ServiceMetrics } from '../../observability/metrics.ts';
import type { RunningService } from '../service.ts';
import { BackoffTracker, defaultBackoff, type BackoffOptions } from './backoff.ts';
import { backlog, pendingShards, recordFailure, ShardSession, type OutboxRow } from './outbox-store.ts';

export interface RelayConfig extends CommonConfig {
  relayId?: string;
  /** Rows per batch (one producer.send); default 200. */
  batchSize?: number;
  /** Sleep when a pass found nothing to publish; default 20 ms. */
  pollIntervalMs?: number;
  /** Must equal the command-service's; default 16. */
  outboxShards?: number;
  /** Idempotent producer; default true (false = E-003's anti-pattern). */
  idempotent?: boolean;
  /** Per-shard backoff after a failed batch; default {initialMs: 100, maxMs: 5000}. */
  backoff?: BackoffOptions;
  /** kafkajs retries within one send/connect (default kafkajs's: 5 from 300 ms); the relay's own backoff comes after. */
  producerRetry?: RetryOptions;
  /** Workers publishing at once, each with its own session and producer; default 4. */
  concurrency?: number;
  /**
   * Check every send's response before marking rows (default true; EventPublisher's header). false =
   * mark whatever a resolved send() covered: the pre-fix relay, E-024's ❌ arm, never for production.
   */
  verifyAcknowledgements?: boolean;
  /**
   * Isolation of the batch transaction (default 'read-committed'; 'repeatable-read' was the default until
   * E-023 showed what it costs). Under REPEATABLE READ the
   * locking SELECT takes next-key locks on the shard's pending range, gap included, and holds them while
   * the batch is sent: the command-service's outbox INSERTs into that shard wait for the send. E-023
   * measured it: with Kafka's links cut, every send fails only after kafkajs's ≈ 9 s of retries, so the
   * outbox stops taking writes exactly while it should buffer them (6 % of writes answered, the rest ran
   * into the command-service's 2 s timeout). 'read-committed' locks only the rows it selected (InnoDB
   * takes no gap locks there), so writes go on while Kafka is away. Order per aggregate does not depend
   * on it: an aggregate's next outbox row is inserted only after its previous command committed.
   */
  batchIsolation?: 'repeatable-read' | 'read-committed';
}

export async function startOutboxRelay(config: RelayConfig): Promise<RunningService> {
  const relayId = config.relayId ?? `relay-${randomUUID().slice(0, 8)}`;
  const batchSize = config.batchSize ?? 200;
  const pollIntervalMs = config.pollIntervalMs ?? 20;
  const shards = config.outboxShards ?? 16;
  const concurrency = config.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`relay: concurrency must be a positive integer, got ${concurrency}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`relay: batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`relay: outboxShards must be a positive integer, got ${shards}`);
  if (config.batchIsolation !== undefined && config.batchIsolation !== 'repeatable-read' && config.batchIsolation !== 'read-committed') throw new Error(`relay: batchIsolation must be 'repeatable-read' or 'read-committed', got '${String(config.batchIsolation)}'`);

  const logger = createLogger('outbox-relay', config.logLevel).child({ relayId });
  const metrics = new ServiceMetrics('outbox-relay');
  const pool = createPool(config.mysql, 3);
  const dbQueries = metrics.counter('db_queries_total', 'SQL statements sent by the relay');
  const published = metrics.counter('relay_published_total', 'Events published and marked');
  const publishErrors = metrics.counter('relay_publish_errors_total', 'Batches that failed (rolled back, attempts + 1)');
  // A send that resolved without every partition's acknowledgement (kafkajs #1303 after a leader move):
  // counted apart so an experiment can show this path fired and the batch was not marked.
  const unacknowledged = metrics.counter('relay_unacknowledged_batches_total', 'Batches whose send resolved without an acknowledgement for every partition (not marked, sent again)');
  // Producers replaced: after a failed send, and after a send kafkajs retried internally (its idempotent
  // sequence numbers may be rewound by a request still in flight; see EventPublisher, E-001's lost v22).
  const producersRetired = metrics.counter('relay_producers_retired_total', 'Producers replaced by a new one (reason: failed send, or a send kafkajs retried)', ['reason']);
  // Acknowledgements at an offset the producer had been given before: the broker deduplicated a new batch.
  const duplicateAcks = metrics.counter('relay_duplicate_acknowledgements_total', 'Batches acknowledged at an offset already acknowledged to the same producer (nothing appended; not marked, sent again)');
  const batchSizes = metrics.histogram('relay_batch_size', 'Rows per published batch', [], [1, 5, 10, 25, 50, 100, 200, 500, 1000]);
  const publishDuration = metrics.histogram('relay_publish_duration_seconds', 'producer.send of one batch, until acks=-1');
  // Collected on scrape, from the table itself: the backlog is a fact of the database, not of one relay.
  let lastBacklog = { count: 0, oldestAgeSeconds: 0 };
  const readBacklog = async () => {
    lastBacklog = await backlog(pool).catch(() => lastBacklog);
    return lastBacklog;
  };
  metrics.gauge('outbox_backlog', 'Outbox rows not yet published', [], async function collect() {
    this.set((await readBacklog()).count);
  });
  metrics.gauge('outbox_oldest_age_seconds', 'Age of the oldest unpublished outbox row', [], async function collect() {
    this.set((await readBacklog()).oldestAgeSeconds);
  });

  interface Worker {
    session: ShardSession;
    publisher: EventPublisher;
  }
  // One serde for every worker: it registers the schema once (its registration is shared while in flight).
  const serde = new EnvelopeSerde(new RegistrySchemaSource(config.schemaRegistryUrl), { subject: `${config.topics.events}-value` });
  const workers: Worker[] = Array.from({ length: concurrency }, (_, i) => ({
    session: new ShardSession(config.mysql, dbQueries, config.batchIsolation),
    publisher: new EventPublisher({
      brokers: config.kafka.brokers,
      schemaRegistryUrl: config.schemaRegistryUrl,
      topic: config.topics.events,
      clientId: concurrency === 1 ? relayId : `${relayId}-${i}`,
      idempotent: config.idempotent ?? true,
      verifyAcknowledgements: config.verifyAcknowledgements ?? true,
      ...(config.producerRetry ? { retry: config.producerRetry } : {}),
      logger,
      serde,
      onProducerRetired: (reason) => producersRetired.inc({ reason }),
    }),
  }));
  const backoffOptions = config.backoff ?? defaultBackoff;
  const shardBackoff = new BackoffTracker<number>(backoffOptions);
  const databaseBackoff = new BackoffTracker<number>(backoffOptions);

  let stopping = false;
  const wakers = new Set<() => void>();
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakers.delete(done);
        resolve();
      }
      wakers.add(done);
    });

  /** Publishes one batch of one shard; returns how many events were published (0: none or failed). */
  async function relayShard({ session, publisher }: Worker, shard: number): Promise<number> {
    let rows: OutboxRow[] = [];
    let acks: RecordMetadata[] = [];
    let released = false;
    try {
      try {
        const batch = await session.openBatch(shard, batchSize);
        if (batch === undefined) {
          // Another worker or relay holds the shard: end the empty transaction, no lease to give back.
          await session.commit();
          released = true;
          return 0;
        }
        rows = batch;
        if (rows.length === 0) {
          await session.finish(shard, []);
          released = true;
          return 0;
        }
        const events = rows.map(toOutgoingEvent);
        await failpoint('relay.before-publish');
        const started = performance.now();
        acks = await publisher.publish(events);
        publishDuration.observe((performance.now() - started) / 1000);
        await failpoint('relay.after-publish-before-mark');
        await session.finish(shard, rows.map((row) => row.id));
        released = true;
      } catch (error) {
        await failBatch(session, shard, rows, error);
        return 0;
      }
      shardBackoff.succeed(shard);
      published.inc(rows.length);
      batchSizes.observe(rows.length);
      if (logger.isLevelEnabled('debug')) logger.debug({ shard, eventIds: rows.map((row) => row.eventId), offsets: acks.map((m) => `${m.partition}@${m.baseOffset ?? m.offset}`) }, 'batch published');
      try {
        await failpoint('relay.after-mark');
      } catch (error) {
        logger.warn({ err: error, shard }, 'failpoint after mark (batch is committed)');
      }
      return rows.length;
    } finally {
      if (!released) await session.releaseLease(shard).catch(() => session.close());
    }
  }

  async function failBatch(session: ShardSession, shard: number, rows: OutboxRow[], error: unknown): Promise<void> {
    await session.rollback().catch(() => session.close());
    publishErrors.inc();
    if (error instanceof UnacknowledgedPartitionsError) {
      unacknowledged.inc();
      logger.warn({ shard, partitions: error.partitions, acknowledged: error.acknowledged, eventIds: rows.map((row) => row.eventId) }, 'send resolved without every partition acknowledged; batch not marked');
    }
    if (error instanceof DuplicateAcknowledgementError) {
      duplicateAcks.inc();
      logger.warn({ shard, partitions: error.partitions, eventIds: rows.map((row) => row.eventId) }, 'send acknowledged at an offset already acknowledged (a duplicate, nothing appended); batch not marked');
    }
    const delayMs = shardBackoff.fail(shard);
    const message = `${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`;
    // While Kafka is away every shard fails every few seconds: warn on a shard's first failure and every
    // 10th after it, the rest at debug, so an outage is visible without drowning the log.
    const attempt = shardBackoff.attempts(shard);
    const level = attempt === 1 || attempt % 10 === 0 ? 'warn' : 'debug';
    logger[level]({ error: message, shard, attempt, delayMs, eventIds: rows.map((row) => row.eventId), traceIds: [...new Set(rows.map(traceIdOf))] }, 'batch failed, rolled back; shard backs off');
    await recordFailure(pool, dbQueries, rows.map((row) => row.id), message).catch((recordError: unknown) =>
      logger.warn({ err: recordError, shard }, 'could not record the failure on the outbox rows'),
    );
  }

  // Workers that look for work at the same moment share one query: an idle relay asks the database
  // once per poll, not once per worker.
  let pendingQuery: Promise<Set<number>> | undefined;
  const pending = () =>
    (pendingQuery ??= pendingShards(pool, dbQueries).finally(() => {
      pendingQuery = undefined;
    }));

  async function run(worker: Worker, index: number): Promise<void> {
    // Spread the workers' starting shards, so they do not all ask for the same lease first.
    let offset = (Math.floor(Math.random() * shards) + Math.floor((index * shards) / concurrency)) % shards;
    while (!stopping) {
      let publishedThisPass = 0;
      try {
        const shardsWithRows = await pending();
        // Rows with a shard number beyond our count (a misconfigured writer) are still published.
        const span = Math.max(shards, ...[...shardsWithRows].map((shard) => shard + 1));
        for (let i = 0; i < span && !stopping; i += 1) {
          const shard = (offset + i) % span;
          if (!shardsWithRows.has(shard) || shardBackoff.isWaiting(shard)) continue;
          publishedThisPass += await relayShard(worker, shard);
        }
        offset = (offset + 1) % shards;
        databaseBackoff.succeed(index);
      } catch (error) {
        // The database (not Kafka) failed: start over on a new connection, after a backoff.
        await worker.session.close();
        const delayMs = databaseBackoff.fail(index);
        logger.warn({ err: error, delayMs, worker: index }, 'relay pass failed (database)');
        if (!stopping) await pause(delayMs);
        continue;
      }
      // A pass that published something goes again at once: the backlog drains at full speed.
      if (publishedThisPass === 0 && !stopping) await pause(pollIntervalMs);
    }
  }

  const app = createHttpServer({ metrics, logger });
  const url = await listen(app, config.httpPort ?? 0);
  const loop = Promise.all(workers.map((worker, index) => run(worker, index).catch((error: unknown) => logger.error({ err: error, worker: index }, 'relay loop crashed'))));
  logger.info({ url, batchSize, shards, concurrency, idempotent: workers[0]!.publisher.idempotent }, 'outbox-relay started');

  let stopped: Promise<void> | undefined;
  return {
    name: 'relay',
    url,
    metrics,
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        for (const wake of [...wakers]) wake();
        await loop; // the batches in progress finish (published and marked, or rolled back)
        await Promise.all(workers.map(async ({ session, publisher }) => {
          await session.close();
          await publisher.disconnect();
        }));
        await app.close();
        await pool.end().catch(() => undefined);
      })()),
  };
}

function traceIdOf(row: OutboxRow): string | undefined {
  try {
    return (JSON.parse(row.headers) as KafkaHeaders)[eventHeaders.traceId];
  } catch {
    return undefined;
  }
}

function toOutgoingEvent(row: OutboxRow): OutgoingEvent {
  return { envelope: JSON.parse(row.payload) as EventEnvelope, headers: JSON.parse(row.headers) as KafkaHeaders };
}
