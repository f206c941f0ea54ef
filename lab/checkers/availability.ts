/**
 * Availability under an outage (E-023), read from a history: of the requests of one kind started while
 * a fault was active, how many succeeded, how long they took (a request the client gave up on counts
 * with the time it waited), how many hung until the client's timeout, and how long after the heal the
 * first request started after it succeeded (recovery).
 */
import type { CompletedOperation } from '../history/history.ts';
import { percentile } from '../util/statistics.ts';

export interface OutageStats {
  requests: number;
  /** % of those requests answered successfully (NaN without requests). */
  availabilityPct: number;
  p99Ms: number;
  /** Requests that ended at or past the client's timeout: the hung ones. */
  timeouts: number;
  /** From the heal to the end of the first successful request started after it; NaN if none succeeded. */
  recoveryMs: number;
}

export function outageStats(operations: readonly CompletedOperation[], window: { start: number; end: number }, options: { f: string; clientTimeoutMs: number }): OutageStats {
  const ofKind = operations.filter((op) => op.f === options.f && op.end !== undefined);
  const during = ofKind.filter((op) => op.start >= window.start && op.start < window.end);
  const latencies = during.map((op) => op.end! - op.start);
  const ok = during.filter((op) => op.type === 'ok').length;
  const firstAfter = ofKind.filter((op) => op.type === 'ok' && op.start >= window.end).sort((a, b) => a.end! - b.end!)[0];
  return {
    requests: during.length,
    availabilityPct: during.length ? Math.round((1000 * ok) / during.length) / 10 : Number.NaN,
    p99Ms: Math.round(percentile(latencies, 99)),
    timeouts: latencies.filter((ms) => ms >= options.clientTimeoutMs).length,
    recoveryMs: firstAfter ? Math.round(firstAfter.end! - window.end) : Number.NaN,
  };
}
