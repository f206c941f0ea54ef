/**
 * kafkajs log entries → pino, at the level they deserve. kafkajs logs at ERROR much of what a consumer
 * group does normally: a heartbeat answered "The group is rebalancing", "The coordinator is not aware
 * of this member" (it re-joins), "Not coordinator" / "coordinator is loading" while a group coordinator
 * moves, "not the leader" / "leadership election" and connection errors while a broker restarts; each
 * is retried by kafkajs and heals by itself. Logged as pino error (level 50) they flooded every test
 * run and buried the real errors. Those become `info`; a crash that kafkajs restarts on its own or a
 * restart notice becomes `warn`; everything else kafkajs calls an error stays `error`.
 */
import { logLevel, type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from 'pino';

export type PinoLevel = 'debug' | 'info' | 'warn' | 'error';

/** What kafkajs reports as an error but is a normal moment of a group or a cluster (retried, self-healing). */
const normalPatterns = [
  /rebalanc/i,
  /not aware of this member/i, // UNKNOWN_MEMBER_ID: the member re-joins
  /not the correct coordinator|not coordinator|NOT_COORDINATOR/i,
  /coordinator is (loading|not available)|COORDINATOR_(LOAD_IN_PROGRESS|NOT_AVAILABLE)/i,
  /not the leader|leadership election|NOT_LEADER|LEADER_NOT_AVAILABLE/i,
  /fenced leader epoch|leader epoch|FENCED_LEADER_EPOCH|UNKNOWN_LEADER_EPOCH/i,
  /connection (error|timeout|closed|refused)|closed connection|socket hang up|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT/i,
  /KafkaJSConnection(Closed)?Error|broker not connected|failed to connect/i,
  /does not host this topic-partition|UNKNOWN_TOPIC_OR_PARTITION/i, // metadata not yet propagated after a leader move
];

const text = (entry: LogEntry) => {
  const { message, error } = entry.log as { message?: unknown; error?: unknown };
  return `${typeof message === 'string' ? message : ''} ${typeof error === 'string' ? error : error instanceof Error ? error.message : ''}`;
};

/** Pure: the pino level of one kafkajs log entry. */
export function kafkaLogLevel(entry: LogEntry): PinoLevel {
  if (entry.level >= logLevel.DEBUG) return 'debug';
  if (entry.level >= logLevel.INFO) return 'info';
  const what = text(entry);
  const normal = normalPatterns.some((pattern) => pattern.test(what));
  if (/^Restarting the consumer/.test(entry.log.message)) return 'warn';
  if (/^Crash: /.test(entry.log.message)) {
    // kafkajs restarts after retriable crashes (CRASH with restart: true); a non-retriable one stops
    // the consumer for good, which the service treats as fatal on its own (consumer/index.ts).
    return normal || /KafkaJSNumberOfRetriesExceeded/.test(what) ? 'warn' : 'error';
  }
  if (normal) return 'info';
  // A record (batch) too large for its topic is returned to the caller, which decides: the consumer
  // writes a DLQ fallback (and logs that), anyone else fails the send and logs it there.
  if (/larger than the max message size|MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE|batch larger than the configured segment size/i.test(what)) return 'warn';
  return entry.level >= logLevel.WARN ? 'warn' : 'error';
}

/** A kafkajs `logCreator` writing to `logger` at kafkaLogLevel's level, with the entry's fields. */
export function kafkaLogCreator(logger: Logger): logCreator {
  return () => (entry) => {
    logger[kafkaLogLevel(entry)]({ kafkajs: entry.namespace, ...entry.log }, entry.log.message);
  };
}
