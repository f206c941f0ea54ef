/** The consumer-service's metrics, created once per service instance. */
import type { ServiceMetrics } from '../../observability/metrics.ts';

export function consumerMetrics(metrics: ServiceMetrics) {
  return {
    lag: metrics.gauge('consumer_lag', 'Records behind the partition high watermark after the last processed record', ['topic', 'partition']),
    applied: metrics.counter('events_applied_total', 'Events applied to the projection (committed)', ['event_type']),
    duplicates: metrics.counter('duplicates_skipped_total', 'Events skipped because processed_event already had them'),
    retries: metrics.counter('retries_total', 'Records sent for another attempt, by retry level (retry-N topic or in-place)', ['level']),
    dlq: metrics.counter('dlq_total', 'Records sent to the DLQ', ['error_class']),
    dlqFallbacks: metrics.counter('dlq_fallbacks_total', 'Dead letters the DLQ rejected as too large, written as a truncated fallback', ['reason']),
    e2eLatency: metrics.histogram('e2e_latency_seconds', 'From envelope.occurredAt to the projection commit'),
    dbQueries: metrics.counter('db_queries_total', 'SQL statements issued by the consumer'),
    versionGaps: metrics.counter('version_gaps_total', 'Attempts to apply an event over missing versions of its account (not applied; retried, then DLQ as VersionGapError)'),
    batchFallbacks: metrics.counter('batch_fallbacks_total', 'Batches not applied as one transaction (conflict: a duplicate, version gap or unknown account; error: a failed statement), applied record by record instead', ['reason']),
    failures: metrics.counter('processing_failures_total', 'Processing attempts that failed, by kind', ['kind']),
    // kafkajs's GROUP_JOIN, once per completed JoinGroup + SyncGroup: the first join and every rejoin
    // after a rebalance (its REBALANCING event is not emitted when the member was expelled and rejoins
    // after UNKNOWN_MEMBER_ID, so joins are what counts rebalances).
    groupJoins: metrics.counter('consumer_group_joins_total', 'Times this member (re)joined its consumer group: 1 + the rebalances it went through'),
  };
}

export type ConsumerMetrics = ReturnType<typeof consumerMetrics>;
