/**
 * kafkajs log entries → pino levels (issue 7): the error-level entries of a normal rebalance or leader
 * move are info; a crash kafkajs restarts is a warning; real errors stay errors.
 */
import { describe, expect, it } from 'vitest';
import { logLevel, type LogEntry } from 'kafkajs';
import { kafkaLogLevel } from '../../src/kafka/log.ts';

const entry = (level: logLevel, message: string, extra: Record<string, unknown> = {}): LogEntry => ({
  namespace: 'Connection',
  level,
  label: logLevel[level],
  log: { timestamp: '2026-11-25T12:00:00.000Z', message, ...extra },
});

describe('kafkaLogLevel', () => {
  it('maps the errors of a normal rebalance, coordinator or leader move to info', () => {
    for (const e of [
      entry(logLevel.ERROR, 'Response Heartbeat(key: 12, version: 3)', { error: 'The group is rebalancing, so a rejoin is needed', broker: 'b1' }),
      entry(logLevel.ERROR, 'The group is rebalancing, re-joining'),
      entry(logLevel.ERROR, 'The coordinator is not aware of this member, re-joining the group', { error: 'The coordinator is not aware of this member' }),
      entry(logLevel.ERROR, 'Response OffsetCommit(key: 8, version: 5)', { error: 'This is not the correct coordinator for this group' }),
      entry(logLevel.ERROR, 'Response FindCoordinator(key: 10, version: 2)', { error: 'The coordinator is not available' }),
      entry(logLevel.ERROR, 'Response JoinGroup(key: 11, version: 5)', { error: "The coordinator is loading and hence can't process requests" }),
      entry(logLevel.ERROR, 'Response Metadata(key: 3, version: 6)', { error: 'There is no leader for this topic-partition as we are in the middle of a leadership election' }),
      entry(logLevel.ERROR, 'Response Fetch(key: 1, version: 11)', { error: 'This server is not the leader for that topic-partition' }),
      entry(logLevel.ERROR, 'Connection error: connect ECONNREFUSED 127.0.0.1:41234', { broker: '127.0.0.1:41234' }),
      entry(logLevel.ERROR, 'Connection timeout', { broker: '127.0.0.1:41234' }),
    ]) {
      expect(kafkaLogLevel(e), `${e.log.message} ${String(e.log.error ?? '')}`).toBe('info');
    }
  });

  it('a crash kafkajs restarts is a warning; a crash for good and anything else stays an error', () => {
    expect(kafkaLogLevel(entry(logLevel.ERROR, "Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group"))).toBe('warn');
    expect(kafkaLogLevel(entry(logLevel.ERROR, 'Crash: KafkaJSNumberOfRetriesExceeded: boom'))).toBe('warn');
    expect(kafkaLogLevel(entry(logLevel.ERROR, 'Restarting the consumer in 300ms'))).toBe('warn');
    expect(kafkaLogLevel(entry(logLevel.ERROR, 'Crash: KafkaJSNonRetriableError: The request included a message larger than the max message size the server will accept'))).toBe('error');
    expect(kafkaLogLevel(entry(logLevel.ERROR, 'Error when calling eachBatch', { error: 'TypeError: x is undefined' }))).toBe('error');
    expect(kafkaLogLevel(entry(logLevel.ERROR, 'Response Produce(key: 0, version: 7)', { error: 'The request included an invalid record' }))).toBe('error');
    // Returned to the caller, who handles it (the consumer's DLQ fallback) or fails the send and logs it.
    expect(kafkaLogLevel(entry(logLevel.ERROR, 'Response Produce(key: 0, version: 7)', { error: 'The request included a message larger than the max message size the server will accept' }))).toBe('warn');
  });

  it('keeps kafkajs levels below error', () => {
    expect(kafkaLogLevel(entry(logLevel.WARN, 'something odd'))).toBe('warn');
    expect(kafkaLogLevel(entry(logLevel.INFO, 'Starting'))).toBe('info');
    expect(kafkaLogLevel(entry(logLevel.DEBUG, 'Request Fetch'))).toBe('debug');
  });
});
