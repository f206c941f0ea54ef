/**
 * What a replay is asked to do, and the pure decisions about each DLQ record: does it match the
 * operator's filter, and which headers does its replayed copy carry. Pure so they are unit tested
 * without a cluster (test/unit/replay-filter.test.ts).
 */
import { eventHeaders, failureHeaders } from '../../kafka/headers.ts';

export interface ReplayFilter {
  /** Header `event-type` must be one of these (a record without the header never matches). */
  eventTypes?: string[];
  /** Header `lab.error.class` must be one of these (a record without the header never matches). */
  errorClasses?: string[];
  /** Record timestamp (epoch ms) >= from. */
  from?: number;
  /** Record timestamp (epoch ms) <= to. */
  to?: number;
}

export interface ReplayOptions {
  /** Who runs the replay (audit). */
  operator: string;
  /** Why (audit). */
  reason: string;
  filter?: ReplayFilter;
  /** Upper bound on publishes per second (> 0). */
  ratePerSecond: number;
  /** Audit what would be replayed, publish nothing. */
  dryRun?: boolean;
  /** Stop after this many matching records (replayed + dry-run + failed); filtered ones do not count. */
  limit?: number;
}

export const auditLimits = { operator: 128, reason: 500 } as const;

/** Returns why the options are unusable, or undefined when they are fine. */
export function invalidReplayOptions(options: Partial<ReplayOptions>): string | undefined {
  if (typeof options.operator !== 'string' || options.operator.trim() === '') return 'operator is required (who runs the replay)';
  if (options.operator.length > auditLimits.operator) return `operator is longer than ${auditLimits.operator} characters`;
  if (typeof options.reason !== 'string' || options.reason.trim() === '') return 'reason is required (why the replay runs)';
  if (options.reason.length > auditLimits.reason) return `reason is longer than ${auditLimits.reason} characters`;
  if (typeof options.ratePerSecond !== 'number' || !Number.isFinite(options.ratePerSecond) || options.ratePerSecond <= 0) return 'ratePerSecond must be a number > 0';
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1)) return 'limit must be a whole number >= 1';
  const filter = options.filter ?? {};
  for (const name of ['from', 'to'] as const) {
    const value = filter[name];
    if (value !== undefined && !Number.isFinite(value)) return `filter.${name} must be epoch milliseconds`;
  }
  if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to) return 'filter.from is after filter.to';
  return undefined;
}

/** The facts of a DLQ record the filter looks at. */
export interface DlqRecordFacts {
  eventType: string | undefined;
  errorClass: string | undefined;
  /** Record timestamp, epoch ms. */
  timestamp: number;
}

export type FilterVerdict = { match: true } | { match: false; reason: string };

/** Every given criterion must hold; an absent or empty list does not filter. */
export function matchReplayFilter(record: DlqRecordFacts, filter: ReplayFilter = {}): FilterVerdict {
  if (filter.eventTypes?.length && (record.eventType === undefined || !filter.eventTypes.includes(record.eventType))) {
    return { match: false, reason: `event type ${record.eventType ?? '(none)'} not in [${filter.eventTypes.join(', ')}]` };
  }
  if (filter.errorClasses?.length && (record.errorClass === undefined || !filter.errorClasses.includes(record.errorClass))) {
    return { match: false, reason: `error class ${record.errorClass ?? '(none)'} not in [${filter.errorClasses.join(', ')}]` };
  }
  if (filter.from !== undefined && !(record.timestamp >= filter.from)) return { match: false, reason: `timestamp ${record.timestamp} before ${filter.from}` };
  if (filter.to !== undefined && !(record.timestamp <= filter.to)) return { match: false, reason: `timestamp ${record.timestamp} after ${filter.to}` };
  return { match: true };
}

const failureHeaderNames = new Set<string>(Object.values(failureHeaders));

/**
 * Headers of the replayed copy: the original event's headers (event id, type, trace, aggregate, and
 * anything else the producer set) plus `replay-id`, without the DLQ's failure headers, so the consumer
 * sees a first attempt (attempt count 0, no retry-not-before) and the record is traceable to its replay.
 * Values are passed through untouched (Buffers stay Buffers).
 */
export function replayHeaders<V>(original: Record<string, V | undefined> | undefined, replayId: string): Record<string, V | string> {
  const headers: Record<string, V | string> = {};
  for (const [name, value] of Object.entries(original ?? {})) {
    if (value === undefined || failureHeaderNames.has(name) || name === eventHeaders.replayId) continue;
    headers[name] = value;
  }
  headers[eventHeaders.replayId] = replayId;
  return headers;
}
