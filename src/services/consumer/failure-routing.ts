/**
 * Where a failed record goes next, and the headers it carries there. Pure functions, so the policy
 * (attempt → retry topic or DLQ, when a retry is due, what a dead letter tells its reader) is unit
 * tested without a cluster.
 *
 * Attempt counting: `lab.attempts` on a record = how many times processing it has failed so far. A
 * record from the main topic has none (0). Failure number n (1-based) goes to retry topic n-1, whose
 * delay is retryDelaysMs[n-1]; once n reaches maxAttempts it goes to the DLQ. With more attempts than
 * retry topics the surplus attempts reuse the last retry topic.
 */
import type { TopicNames } from '../../kafka/topics.ts';
import { failureHeaders, type KafkaHeaders } from '../../kafka/headers.ts';
import type { Failure } from './errors.ts';

export type Route =
  | { action: 'dlq'; topic: string }
  | { action: 'retry'; topic: string; /** the retry topic's 1-based level, the metric label */ level: number; delayMs: number };

/** Pure: decides the next stop of a record whose attempt number `attempts` (1-based) just failed. */
export function routeFailure(options: { failure: Failure; attempts: number; maxAttempts: number; topics: Pick<TopicNames, 'retry' | 'retryDelaysMs' | 'dlq'> }): Route {
  const { failure, attempts, maxAttempts, topics } = options;
  if (failure.kind === 'poison' || attempts >= maxAttempts || topics.retry.length === 0) return { action: 'dlq', topic: topics.dlq };
  const index = Math.min(attempts, topics.retry.length) - 1;
  return { action: 'retry', topic: topics.retry[index]!, level: index + 1, delayMs: topics.retryDelaysMs[index] ?? 0 };
}

/** Pure: the earliest time (epoch ms) a record published to a retry topic at `now` may be processed. */
export function retryNotBefore(now: number, delayMs: number): number {
  return now + Math.max(0, delayMs);
}

/** Pure: how long (ms) a retry record must still wait; 0 = due. Absent/garbled header = due now. */
export function retryWaitMs(headers: KafkaHeaders, now: number): number {
  const notBefore = Number(headers[failureHeaders.retryNotBefore]);
  return Number.isFinite(notBefore) ? Math.max(0, notBefore - now) : 0;
}

/** Failed attempts recorded on a record so far (0 for a record straight from the main topic). */
export function previousAttempts(headers: KafkaHeaders): number {
  const value = Number(headers[failureHeaders.attempts]);
  return Number.isInteger(value) && value > 0 ? value : 0;
}

export interface SourceRecord {
  topic: string;
  partition: number;
  offset: string;
  headers: KafkaHeaders;
}

const maxMessageLength = 1000;

/**
 * Pure: the headers of a retry or DLQ record. Keeps the original headers (event id, trace id …), and
 * keeps where the record *first* came from: a record failing on retry-2 still names its main-topic
 * partition and offset, and the time of its first failure, so an operator can find and replay it.
 */
export function failureRecordHeaders(
  record: SourceRecord,
  failure: Pick<Failure, 'errorClass' | 'message'>,
  attempts: number,
  firstFailureAt: number,
  groupId: string,
  notBefore?: number,
): KafkaHeaders {
  const inherited = record.headers[failureHeaders.originalTopic] !== undefined;
  const headers: KafkaHeaders = {
    ...record.headers,
    [failureHeaders.errorClass]: failure.errorClass,
    [failureHeaders.errorMessage]: failure.message.length > maxMessageLength ? `${failure.message.slice(0, maxMessageLength - 1)}…` : failure.message,
    [failureHeaders.originalTopic]: inherited ? record.headers[failureHeaders.originalTopic]! : record.topic,
    [failureHeaders.originalPartition]: inherited ? (record.headers[failureHeaders.originalPartition] ?? '') : String(record.partition),
    [failureHeaders.originalOffset]: inherited ? (record.headers[failureHeaders.originalOffset] ?? '') : record.offset,
    [failureHeaders.attempts]: String(attempts),
    [failureHeaders.firstFailureAt]: String(firstFailureAt),
    [failureHeaders.consumerGroup]: groupId,
  };
  if (notBefore === undefined) delete headers[failureHeaders.retryNotBefore];
  else headers[failureHeaders.retryNotBefore] = String(notBefore);
  return headers;
}

/** The first failure's time: inherited from an earlier attempt's header, else now. */
export function firstFailureAt(headers: KafkaHeaders, now: number): number {
  const value = Number(headers[failureHeaders.firstFailureAt]);
  return Number.isFinite(value) && value > 0 ? value : now;
}
