/** consumer-service configuration and its defaults. */
import type { CommonConfig, RedisConfig } from '../../config.ts';
import type { InvalidationMode } from '../../cache/balance-store.ts';

export interface ConsumerConfig extends CommonConfig {
  groupId: string;
  /**
   * The Avro reader schema this build decodes with (an .avsc file; default
   * fixtures/avro/wallet-event-envelope.avsc). Writers' schemas are resolved to it, so a build with another
   * reader schema is another consumer build (E-006: old and new readers; E-015: a `….v2` topic's reader).
   */
  envelopeSchemaFile?: string;
  /**
   * The consumer group recorded in processed_event and applied_event_log (default `groupId`): the dedupe
   * key is (this, event id). A build migrated to another topic under another Kafka group keeps its
   * predecessor's, so an event read on both topics (dual write) is applied once (E-015). A Kafka group
   * cannot be shared instead: kafkajs 2.2.4's group leader spreads the partitions of the topics *it*
   * subscribes to over every member (consumerGroup.js, SYNC), and a member drops those of topics it did not
   * subscribe to, so in a group whose members read different topics some partitions are read by nobody.
   */
  dedupeGroup?: string;
  /** `naive` (E-003 anti-pattern): no processed_event dedupe, no Idempotency-Key on the notification. */
  mode?: 'idempotent' | 'naive';
  /** `before-processing` (E-004 anti-pattern): offsets committed before the records are applied. */
  commit?: 'after-processing' | 'before-processing';
  /**
   * How events are applied. `batch` (the default of the idempotent consumer committing after
   * processing): the records of a fetched batch, up to `maxBatchRecords` at a time, in ONE DB
   * transaction, then ONE offset commit; a record that fails to decode or validate is handed on (retry
   * topic/DLQ) on its own, and a batch that is not the plain case (a duplicate, a version gap, an
   * unknown account, a failed statement) is applied record by record. A crash redelivers at most the
   * batch in flight, deduplicated by processed_event. `record`: one transaction and (by
   * `commitGranularity`) one offset commit per record; the only mode of the anti-pattern arms (naive,
   * commit before processing), so their failures stay per record.
   */
  apply?: 'batch' | 'record';
  /**
   * Records per batch transaction (default 500). Also the bound on the work between two heartbeats:
   * kafkajs has no background heartbeat, the batch path heartbeats (and commits) after each batch
   * transaction, so `maxBatchRecords` × the time per record must stay well below `sessionTimeoutMs`,
   * or the coordinator expels the member mid-batch, refuses its commit and the batch is redelivered:
   * a rebalance storm (E-018). Idle fetch loops of other brokers heartbeat meanwhile, so the storm
   * needs every broker's fetch to be busy; do not rely on that. `heartbeat: 'record'` covers the
   * gathering of a batch, a longer `sessionTimeoutMs` all of it.
   */
  maxBatchRecords?: number;
  /**
   * When the batch path heartbeats. `batch` (default): after each batch transaction and its offset
   * commit only. `record`: also after each record it decodes and validates while gathering a batch
   * (kafkajs sends one only when its heartbeat interval has passed, so this costs at most one request
   * a second), so gathering a slow batch keeps the member in its group; a rebalance noticed meanwhile
   * ends the batch early, nothing of it applied or committed, and the partition's owner fetches it
   * again. The batch transaction itself still runs without one.
   */
  heartbeat?: 'batch' | 'record';
  /**
   * How often offsets are committed in `after-processing` mode with `apply: 'record'`. `record` (default): after each record's
   * DB commit, so a crash redelivers at most the one record in flight, at the price of one OffsetCommit
   * round trip per record. `batch`: once per fetched batch, cheaper, but a crash redelivers the whole
   * batch (harmless with dedupe, a double-apply storm without).
   */
  commitGranularity?: 'record' | 'batch';
  /** Non-blocking retries through `topics.retry` (default). `false` (anti-pattern): retry in place, blocking the partition. */
  retryTopics?: boolean;
  /** Attempts in all, the first included; default = number of retry topics + 1. */
  maxAttempts?: number;
  /** Base URL of the notification gateway; absent = no side effect. */
  notificationUrl?: string;
  redis?: RedisConfig;
  /** Cache invalidation after the projection commit (default `delete`). */
  invalidation?: InvalidationMode;
  /** TTL of a `versioned` cache write (default 60 s). */
  cacheTtlMs?: number;
  /** Partitions processed at the same time (default 3); one partition is never processed concurrently. */
  partitionsConsumedConcurrently?: number;
  /**
   * Group session timeout (default 10 s). A SIGKILLed member keeps its partitions until it expires, so
   * this bounds how long a consumer crash stalls its partitions; the broker's minimum is 6 s. It must
   * also exceed the longest work between two heartbeats (see `maxBatchRecords`, `heartbeat`).
   */
  sessionTimeoutMs?: number;
}

export type ResolvedConsumerConfig = ConsumerConfig &
  Required<Pick<ConsumerConfig, 'mode' | 'commit' | 'apply' | 'maxBatchRecords' | 'heartbeat' | 'commitGranularity' | 'retryTopics' | 'maxAttempts' | 'invalidation' | 'cacheTtlMs' | 'partitionsConsumedConcurrently'>>;

export function resolveConsumerConfig(config: ConsumerConfig): ResolvedConsumerConfig {
  const maxAttempts = config.maxAttempts ?? config.topics.retry.length + 1;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error(`maxAttempts must be a whole number >= 1, got ${maxAttempts}`);
  if (!config.groupId) throw new Error('groupId is required');
  const mode = config.mode ?? 'idempotent';
  const commit = config.commit ?? 'after-processing';
  const batchable = mode === 'idempotent' && commit === 'after-processing';
  const apply = config.apply ?? (batchable ? 'batch' : 'record');
  if (apply === 'batch' && !batchable) throw new Error(`apply 'batch' needs mode 'idempotent' and commit 'after-processing' (got mode '${mode}', commit '${commit}'): a redelivered batch is harmless only with dedupe`);
  const maxBatchRecords = config.maxBatchRecords ?? 500;
  if (!Number.isInteger(maxBatchRecords) || maxBatchRecords < 1) throw new Error(`maxBatchRecords must be a whole number >= 1, got ${maxBatchRecords}`);
  return {
    ...config,
    mode,
    commit,
    apply,
    maxBatchRecords,
    heartbeat: config.heartbeat ?? 'batch',
    commitGranularity: config.commitGranularity ?? 'record',
    retryTopics: config.retryTopics ?? true,
    maxAttempts,
    invalidation: config.invalidation ?? 'delete',
    cacheTtlMs: config.cacheTtlMs ?? 60_000,
    partitionsConsumedConcurrently: config.partitionsConsumedConcurrently ?? 3,
  };
}
