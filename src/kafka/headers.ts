import type { EventEnvelope } from '../envelope/envelope.ts';

/** Kafka header names used across services. Values are strings (UTF-8). */
export const eventHeaders = {
  eventId: 'event-id',
  eventType: 'event-type',
  traceId: 'trace-id',
  aggregateId: 'aggregate-id',
  /** Set by the replay-worker on records it re-publishes. */
  replayId: 'replay-id',
} as const;

/** Headers on retry and DLQ records: where the record came from and why it failed. */
export const failureHeaders = {
  errorClass: 'lab.error.class',
  errorMessage: 'lab.error.message',
  originalTopic: 'lab.original.topic',
  originalPartition: 'lab.original.partition',
  originalOffset: 'lab.original.offset',
  attempts: 'lab.attempts',
  firstFailureAt: 'lab.first-failure-at',
  consumerGroup: 'lab.consumer-group',
  /** Earliest time (epoch ms) a retry record may be processed. */
  retryNotBefore: 'lab.retry-not-before',
  /**
   * On a DLQ fallback record (the full record was rejected as too large): `true`, the value is a prefix
   * of the original (or empty); re-read the original from lab.original.topic/partition/offset.
   */
  valueTruncated: 'lab.dlq.value-truncated',
  /** Size in bytes of the original value (DLQ fallback records). */
  originalValueBytes: 'lab.original.value-bytes',
  /** Why the fallback was written: the broker's error (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE). */
  fallbackReason: 'lab.dlq.fallback-reason',
  /** Original headers left off a fallback record (too large), comma-separated names. */
  headersDropped: 'lab.dlq.headers-dropped',
  /** On a DLQ record that failed transiently but could not go to a retry topic: the broker's reason (MESSAGE_TOO_LARGE). */
  retryRejected: 'lab.retry-rejected',
} as const;

export type KafkaHeaders = Record<string, string>;

/** kafkajs gives header values as Buffer | string | (Buffer|string)[] | undefined: normalise to strings. */
export function readHeaders(headers: Record<string, unknown> | undefined): KafkaHeaders {
  const out: KafkaHeaders = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined && first !== null) out[key] = Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  }
  return out;
}

/** The Kafka headers every event record carries (the relay's, and any producer that stands in for it). */
export function envelopeHeaders(envelope: EventEnvelope): KafkaHeaders {
  return {
    [eventHeaders.eventId]: envelope.eventId,
    [eventHeaders.eventType]: envelope.eventType,
    [eventHeaders.traceId]: envelope.traceId,
    [eventHeaders.aggregateId]: envelope.aggregateId,
  };
}
