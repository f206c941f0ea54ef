/**
 * What can go wrong with one record, and what the consumer does about it. The classification is the
 * whole policy: a `poison` record can never succeed (bad bytes, an impossible event), so it goes to the
 * DLQ at once and never holds up its partition; a `transient` failure (DB deadlock, network, an injected
 * failpoint) may succeed later, so it is retried, a bounded number of times.
 */
import { EnvelopeDecodeError } from '../../envelope/errors.ts';
import { FailpointError } from '../../failpoints/failpoints.ts';
import { isRetryableDbError } from '../../db/pool.ts';

/** An event that decodes but cannot be applied: the business rules reject it. Never retried. */
export class PoisonEventError extends Error {
  override name = 'PoisonEventError';
  constructor(
    /** Stable, short reason; becomes the DLQ error class (`unknown-account`, `invalid-amount`). */
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** The notification provider answered with an error status. */
export class NotificationError extends Error {
  override name = 'NotificationError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type FailureKind = 'poison' | 'transient';

export interface Failure {
  kind: FailureKind;
  /** Low-cardinality name of the failure: the DLQ's `lab.error.class` header and the `dlq_total` label. */
  errorClass: string;
  message: string;
}

const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

function isNetworkError(error: unknown): boolean {
  const e = error as { code?: unknown; name?: unknown; cause?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (networkCodes.has(code) || code.startsWith('UND_ERR_')) return true; // undici: UND_ERR_CONNECT_TIMEOUT, UND_ERR_SOCKET …
  if (typeof e?.name === 'string' && e.name.startsWith('KafkaJS')) return true;
  return e?.cause !== undefined && e.cause !== error && isNetworkError(e.cause);
}

/**
 * Pure: maps an error thrown while processing one record to what to do with the record.
 * Anything unrecognised counts as transient: it may be environmental (a dependency hiccup nobody
 * anticipated), and retries are bounded by maxAttempts, after which the DLQ catches it anyway, so the
 * worst case is a few wasted attempts, never a stuck partition.
 */
export function classifyError(error: unknown): Failure {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof EnvelopeDecodeError) return { kind: 'poison', errorClass: error.reason, message };
  if (error instanceof PoisonEventError) return { kind: 'poison', errorClass: error.reason, message };
  if (error instanceof FailpointError) return { kind: 'transient', errorClass: 'FailpointError', message };
  if (error instanceof NotificationError) {
    // 4xx (other than timeout/throttling) means the provider rejects this request as such: retrying it
    // cannot help. 5xx/408/429 are the provider's momentary trouble.
    const permanent = error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429;
    return { kind: permanent ? 'poison' : 'transient', errorClass: permanent ? 'notification-rejected' : 'notification-unavailable', message };
  }
  if (isRetryableDbError(error)) {
    // A MySQL server error (deadlock, lock wait) has an errno; a bare socket code is the network's fault.
    const { errno, code } = error as { errno?: number; code?: string };
    if (errno !== undefined) return { kind: 'transient', errorClass: code ? `db:${code}` : `db:${errno}`, message };
    return { kind: 'transient', errorClass: 'network', message };
  }
  if (isNetworkError(error)) return { kind: 'transient', errorClass: 'network', message };
  const name = error instanceof Error ? error.name : 'unknown';
  return { kind: 'transient', errorClass: name || 'Error', message };
}

const tooLargeTypes = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

/**
 * Pure: the broker's reason when a produce was rejected because the record (batch) is too large for
 * the topic (`max.message.bytes`), else undefined. kafkajs wraps the protocol error (which carries
 * `type`) in KafkaJSNonRetriableError / KafkaJSNumberOfRetriesExceeded: the cause chain is searched.
 * Retrying such a write can never succeed; only a smaller record can.
 */
export function recordTooLargeReason(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  for (let e = error as { type?: unknown; cause?: unknown } | undefined; e && typeof e === 'object' && !seen.has(e); e = e.cause as typeof e) {
    seen.add(e);
    if (typeof e.type === 'string' && tooLargeTypes.has(e.type)) return e.type;
  }
  return undefined;
}

/**
 * The DLQ rejected a dead letter and every smaller fallback of it as too large: the record can be
 * neither processed nor parked. Skipping it would lose it silently, so the consumer fails instead
 * (`retriable = false`: kafkajs does not retry or restart, the service exits and its supervisor sees it).
 */
export class DeadLetterRejectedError extends Error {
  override name = 'DeadLetterRejectedError';
  readonly retriable = false;
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
  }
}
