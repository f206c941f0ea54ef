/** The replay's pure decisions (src/services/replay/request.ts): filter matching, headers, options. */
import { describe, expect, it } from 'vitest';
import { eventHeaders, failureHeaders } from '../../src/kafka/headers.ts';
import { invalidReplayOptions, matchReplayFilter, replayHeaders } from '../../src/services/replay/request.ts';

const record = { eventType: 'FundsDeposited', errorClass: 'unknown-account', timestamp: 5000 };

describe('matchReplayFilter', () => {
  it('matches everything without a filter or with empty lists', () => {
    expect(matchReplayFilter(record)).toEqual({ match: true });
    expect(matchReplayFilter(record, { eventTypes: [], errorClasses: [] })).toEqual({ match: true });
    expect(matchReplayFilter({ eventType: undefined, errorClass: undefined, timestamp: 0 }, {})).toEqual({ match: true });
  });

  it('selects by event type and error class, with the reason when it does not match', () => {
    expect(matchReplayFilter(record, { eventTypes: ['FundsWithdrawn', 'FundsDeposited'] }).match).toBe(true);
    expect(matchReplayFilter(record, { eventTypes: ['FundsWithdrawn'] })).toEqual({ match: false, reason: 'event type FundsDeposited not in [FundsWithdrawn]' });
    expect(matchReplayFilter(record, { errorClasses: ['unknown-account'] }).match).toBe(true);
    expect(matchReplayFilter(record, { errorClasses: ['malformed-avro'] })).toEqual({ match: false, reason: 'error class unknown-account not in [malformed-avro]' });
    // every criterion must hold
    expect(matchReplayFilter(record, { eventTypes: ['FundsDeposited'], errorClasses: ['malformed-avro'] }).match).toBe(false);
  });

  it('never matches a record without the header a list asks about', () => {
    const bare = { eventType: undefined, errorClass: undefined, timestamp: 5000 };
    expect(matchReplayFilter(bare, { eventTypes: ['FundsDeposited'] })).toEqual({ match: false, reason: 'event type (none) not in [FundsDeposited]' });
    expect(matchReplayFilter(bare, { errorClasses: ['x'] }).match).toBe(false);
  });

  it('selects by timestamp, both bounds inclusive', () => {
    expect(matchReplayFilter(record, { from: 5000, to: 5000 }).match).toBe(true);
    expect(matchReplayFilter(record, { from: 5001 })).toEqual({ match: false, reason: 'timestamp 5000 before 5001' });
    expect(matchReplayFilter(record, { to: 4999 })).toEqual({ match: false, reason: 'timestamp 5000 after 4999' });
    expect(matchReplayFilter({ ...record, timestamp: Number.NaN }, { from: 0 }).match).toBe(false);
  });
});

describe('replayHeaders', () => {
  it('keeps the event headers, drops every failure header, adds replay-id', () => {
    const original = {
      [eventHeaders.eventId]: Buffer.from('e-1'),
      [eventHeaders.eventType]: Buffer.from('FundsDeposited'),
      [eventHeaders.traceId]: 't-1',
      [eventHeaders.aggregateId]: 'a-1',
      custom: Buffer.from('kept'),
      gone: undefined,
      ...Object.fromEntries(Object.values(failureHeaders).map((name) => [name, Buffer.from('x')])),
      [eventHeaders.replayId]: 'an-older-replay',
    };
    const headers = replayHeaders(original, 'r-2');
    expect(Object.keys(headers).sort()).toEqual(['aggregate-id', 'custom', 'event-id', 'event-type', 'replay-id', 'trace-id']);
    expect(headers[eventHeaders.replayId]).toBe('r-2');
    expect(headers[eventHeaders.eventId]).toBe(original[eventHeaders.eventId]); // same Buffer, untouched
    expect(replayHeaders(undefined, 'r-3')).toEqual({ 'replay-id': 'r-3' });
  });
});

describe('invalidReplayOptions', () => {
  const good = { operator: 'alice', reason: 'bug fixed', ratePerSecond: 10 };
  it('accepts complete options and names what is wrong otherwise', () => {
    expect(invalidReplayOptions(good)).toBeUndefined();
    expect(invalidReplayOptions({ ...good, operator: undefined })).toMatch(/operator is required/);
    expect(invalidReplayOptions({ ...good, operator: '  ' })).toMatch(/operator is required/);
    expect(invalidReplayOptions({ ...good, reason: '' })).toMatch(/reason is required/);
    expect(invalidReplayOptions({ ...good, ratePerSecond: 0 })).toMatch(/ratePerSecond/);
    expect(invalidReplayOptions({ ...good, ratePerSecond: Number.POSITIVE_INFINITY })).toMatch(/ratePerSecond/);
    expect(invalidReplayOptions({ ...good, limit: 0 })).toMatch(/limit/);
    expect(invalidReplayOptions({ ...good, filter: { from: 10, to: 5 } })).toMatch(/from is after/);
    expect(invalidReplayOptions({ ...good, operator: 'x'.repeat(129) })).toMatch(/longer than 128/);
  });
});
