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

/** A record as the consumer produces it to a retry topic or the DLQ. */
export interface OutgoingRecord {
  key: Buffer | string | null;
  value: Buffer | null;
  headers: KafkaHeaders;
}

export interface FallbackLimits {
  /** Bytes of the original value kept (a prefix). */
  valueBytes: number;
  /** Bytes (names + values) of the original's own headers kept; the lab.* failure headers are always kept. */
  inheritedHeaderBytes: number;
  /** A key longer than this is left off (null). */
  keyBytes: number;
}

/**
 * The fallbacks tried, in order, when the DLQ rejects a dead letter as too large: first a 16 KiB
 * prefix of the value with the original's (small) headers, then nothing but the failure headers. Both
 * name the original's topic/partition/offset, where the full record stays readable for the topic's
 * retention. A DLQ rejecting even the second is misconfigured: the consumer fails (it never skips).
 */
export const deadLetterFallbacks: readonly FallbackLimits[] = [
  { valueBytes: 16 * 1024, inheritedHeaderBytes: 8 * 1024, keyBytes: 1024 },
  { valueBytes: 0, inheritedHeaderBytes: 0, keyBytes: 0 },
];

const ownHeaders = new Set<string>(Object.values(failureHeaders));
const byteLength = (value: Buffer | string) => (typeof value === 'string' ? Buffer.byteLength(value) : value.length);
const maxDroppedList = 1000;

/**
 * Pure: the smaller stand-in for a dead letter (`record`, headers already from failureRecordHeaders)
 * that the DLQ rejected as too large (`reason`: MESSAGE_TOO_LARGE / RECORD_LIST_TOO_LARGE). The value
 * is cut to a prefix (`lab.dlq.value-truncated: true`, `lab.original.value-bytes` = the full size),
 * original headers that do not fit are left off and named in `lab.dlq.headers-dropped` (`(key)` when
 * the key was left off), and `lab.dlq.fallback-reason` says why. The failure headers (error, origin
 * topic/partition/offset, attempts …) are always kept: they locate the full record on its source topic.
 */
export function deadLetterFallback(record: OutgoingRecord, reason: string, limits: FallbackLimits): OutgoingRecord {
  const headers: KafkaHeaders = {};
  const dropped: string[] = [];
  let inheritedBytes = 0;
  for (const [name, value] of Object.entries(record.headers)) {
    if (ownHeaders.has(name)) {
      headers[name] = value;
      continue;
    }
    const size = byteLength(name) + byteLength(value);
    if (inheritedBytes + size <= limits.inheritedHeaderBytes) {
      headers[name] = value;
      inheritedBytes += size;
    } else {
      dropped.push(name);
    }
  }
  const keepKey = record.key === null || byteLength(record.key) <= limits.keyBytes;
  if (!keepKey) dropped.unshift('(key)');
  const valueBytes = record.value?.length ?? 0;
  const value = record.value === null ? null : record.value.subarray(0, Math.min(valueBytes, limits.valueBytes));
  headers[failureHeaders.fallbackReason] = reason;
  headers[failureHeaders.originalValueBytes] = String(valueBytes);
  if (value !== null && value.length < valueBytes) headers[failureHeaders.valueTruncated] = 'true';
  if (dropped.length) {
    const list = dropped.join(',');
    headers[failureHeaders.headersDropped] = list.length > maxDroppedList ? `${list.slice(0, maxDroppedList - 1)}…` : list;
  }
  return { key: keepKey ? record.key : null, value, headers };
}
