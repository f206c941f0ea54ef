/**
 * One controlled replay of the DLQ (E-005): read the DLQ up to the end it had when the replay started,
 * select records by the operator's filter, re-publish them to `topics.events` at a bounded rate, and
 * write one replay_audit row per record looked at.
 *
 * A replayed record keeps the dead letter's key and value bytes exactly (the envelope, so its event
 * id, is unchanged: "replay twice applies once" rests on the consumer's processed_event dedupe), and
 * its original event headers plus `replay-id`, without the failure headers.
 *
 * Per record: filter → 'filtered' | dry run → 'dry-run' | publish (rate-limited, acks=-1) →
 * failpoint 'replay.after-publish-before-audit' → 'replayed'; a failed publish → 'failed' and the
 * replay goes on. A truncated fallback dead letter (lab.dlq.value-truncated) is never re-published:
 * 'failed', with the source offset of the full record in the audit detail. Publish before audit: a crash in between leaves a replayed record without its audit
 * row (the failpoint shows it), never an audit row claiming a replay that did not happen.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type mysql from 'mysql2/promise';
import { failpoint } from '../../failpoints/index.ts';
import { eventHeaders, failureHeaders, readHeaders } from '../../kafka/headers.ts';
import type { RenewingProducer } from '../../kafka/renewing-producer.ts';
import type { TopicNames } from '../../kafka/topics.ts';
import type { Logger } from '../../observability/logger.ts';
import { insertReplayAudit, type ReplayResult } from './audit.ts';
import { readToCapturedEnd, type TopicRecord } from './bounded-reader.ts';
import { RateLimiter } from './rate-limiter.ts';
import { invalidReplayOptions, matchReplayFilter, replayHeaders, type ReplayOptions } from './request.ts';

export interface ReplayDeps {
  kafka: Kafka;
  /** Connected; sends one record with acks=-1 and its acknowledgement checked (RenewingProducer). */
  producer: Pick<RenewingProducer, 'send'>;
  pool: mysql.Pool;
  topics: Pick<TopicNames, 'events' | 'dlq'>;
  logger?: Logger;
  /** Called once per record with its result (metrics). */
  onResult?: (result: ReplayResult) => void;
}

export interface ReplayReport {
  replayId: string;
  /** DLQ records looked at (each has an audit row). */
  scanned: number;
  replayed: number;
  filtered: number;
  failed: number;
  /** Records a dry run would have replayed (0 for a real replay). */
  dryRun: number;
  /** Whether this was a dry run. */
  mode: 'replay' | 'dry-run';
  durationMs: number;
  /** Publishes per second as measured (see rate-limiter.ts); never above the requested limit. */
  ratePerSecond: number;
}

export class ReplayOptionsError extends Error {
  override name = 'ReplayOptionsError';
}

export async function runReplay(deps: ReplayDeps, options: ReplayOptions): Promise<ReplayReport> {
  const invalid = invalidReplayOptions(options);
  if (invalid) throw new ReplayOptionsError(invalid);
  const started = performance.now();
  const replayId = randomUUID();
  const dryRun = options.dryRun ?? false;
  const limiter = new RateLimiter(options.ratePerSecond);
  const counts: Record<ReplayResult, number> = { replayed: 0, 'dry-run': 0, filtered: 0, failed: 0 };
  let scanned = 0;
  const logger = deps.logger?.child({ replayId });
  logger?.info({ operator: options.operator, reason: options.reason, filter: options.filter, ratePerSecond: options.ratePerSecond, dryRun, limit: options.limit }, 'replay started');

  const handle = async (record: TopicRecord) => {
    scanned += 1;
    const headers = readHeaders(record.headers as Record<string, unknown>);
    const facts = { eventType: headers[eventHeaders.eventType], errorClass: headers[failureHeaders.errorClass], timestamp: record.timestamp };
    const verdict = matchReplayFilter(facts, options.filter);
    let result: ReplayResult;
    let detail: string | undefined;
    if (!verdict.match) {
      result = 'filtered';
      detail = verdict.reason;
    } else if (dryRun) {
      result = 'dry-run';
    } else if (headers[failureHeaders.valueTruncated] === 'true') {
      // A fallback dead letter (the full one was too large for the DLQ) holds a prefix of the value:
      // re-publishing it would put a new poison record on the events topic. The original is named.
      result = 'failed';
      detail = `truncated DLQ fallback (${headers[failureHeaders.originalValueBytes] ?? '?'} bytes originally): re-read the full record from ${headers[failureHeaders.originalTopic]} partition ${headers[failureHeaders.originalPartition]} offset ${headers[failureHeaders.originalOffset]}`;
    } else {
      try {
        await limiter.run(() =>
          deps.producer.send(deps.topics.events, { key: record.key, value: record.value, headers: replayHeaders(record.headers, replayId) }),
        );
        result = 'replayed';
      } catch (error) {
        result = 'failed';
        detail = `publish failed: ${(error as Error)?.message ?? String(error)}`;
        logger?.warn({ err: error, partition: record.partition, offset: record.offset }, 'replay publish failed');
      }
      if (result === 'replayed') await failpoint('replay.after-publish-before-audit');
    }
    await insertReplayAudit(deps.pool, {
      replayId,
      operator: options.operator,
      reason: options.reason,
      dlqTopic: record.topic,
      dlqPartition: record.partition,
      dlqOffset: record.offset,
      eventId: headers[eventHeaders.eventId],
      eventType: facts.eventType,
      errorClass: facts.errorClass,
      targetTopic: deps.topics.events,
      dryRun,
      result,
      detail,
    });
    counts[result] += 1;
    deps.onResult?.(result);
    const matching = counts.replayed + counts['dry-run'] + counts.failed;
    return options.limit !== undefined && matching >= options.limit ? 'stop' : 'continue';
  };

  await readToCapturedEnd(deps.kafka, deps.topics.dlq, handle, {
    groupId: `replay-${replayId}`,
    // A handler waits up to one spacing for the limiter, plus the publish and the audit insert.
    maxHandleMs: limiter.spacingMs + 10_000,
    idleTimeoutMs: limiter.spacingMs + 30_000,
  });
  const report: ReplayReport = {
    replayId,
    scanned,
    replayed: counts.replayed,
    filtered: counts.filtered,
    failed: counts.failed,
    dryRun: counts['dry-run'],
    mode: dryRun ? 'dry-run' : 'replay',
    durationMs: Math.round(performance.now() - started),
    ratePerSecond: limiter.measuredRate(),
  };
  logger?.info(report, 'replay finished');
  return report;
}
