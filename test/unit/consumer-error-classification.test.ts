/** consumer-service: which failures are poison (DLQ at once) and which are transient (retried). */
import { describe, expect, it } from 'vitest';
import { EnvelopeDecodeError } from '../../src/envelope/index.ts';
import { FailpointError } from '../../src/failpoints/index.ts';
import { NotificationError, PoisonEventError, classifyError } from '../../src/services/consumer/errors.ts';

describe('consumer error classification', () => {
  it('treats undecodable bytes as poison, the decode reason as the error class', () => {
    for (const reason of ['bad-magic-byte', 'unknown-schema-id', 'truncated', 'malformed-avro', 'empty'] as const) {
      expect(classifyError(new EnvelopeDecodeError(reason, 'x'))).toEqual({ kind: 'poison', errorClass: reason, message: `${reason}: x` });
    }
  });

  it('treats business-invalid events as poison', () => {
    expect(classifyError(new PoisonEventError('unknown-account', 'no row'))).toMatchObject({ kind: 'poison', errorClass: 'unknown-account' });
    expect(classifyError(new PoisonEventError('invalid-amount', 'amount 0'))).toMatchObject({ kind: 'poison', errorClass: 'invalid-amount' });
  });

  it('treats retryable DB errors, failpoints and network errors as transient', () => {
    const deadlock = Object.assign(new Error('Deadlock found'), { errno: 1213, code: 'ER_LOCK_DEADLOCK' });
    expect(classifyError(deadlock)).toMatchObject({ kind: 'transient', errorClass: 'db:ER_LOCK_DEADLOCK' });
    // MariaDB ≥ 11.6 with innodb_snapshot_isolation (the containers' 11.8): a row changed after the snapshot.
    const changed = Object.assign(new Error("Record has changed since last read in table 'processed_event'"), { errno: 1020, code: 'ER_CHECKREAD' });
    expect(classifyError(changed)).toMatchObject({ kind: 'transient', errorClass: 'db:ER_CHECKREAD' });
    expect(classifyError(Object.assign(new Error('lost'), { code: 'PROTOCOL_CONNECTION_LOST' }))).toMatchObject({ kind: 'transient' });
    expect(classifyError(new FailpointError('consumer.apply', ''))).toMatchObject({ kind: 'transient', errorClass: 'FailpointError' });
    expect(classifyError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toMatchObject({ kind: 'transient', errorClass: 'network' });
    expect(classifyError(Object.assign(new Error('socket'), { code: 'UND_ERR_SOCKET' }))).toMatchObject({ kind: 'transient', errorClass: 'network' });
    const kafkaError = Object.assign(new Error('no leader'), { name: 'KafkaJSNumberOfRetriesExceeded' });
    expect(classifyError(kafkaError)).toMatchObject({ kind: 'transient', errorClass: 'network' });
    // Registry unreachable during decode: a plain network error wrapped as the cause.
    expect(classifyError(new Error('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) }))).toMatchObject({ kind: 'transient', errorClass: 'network' });
  });

  it('retries provider trouble but not a provider rejection', () => {
    expect(classifyError(new NotificationError(503, 'down'))).toMatchObject({ kind: 'transient', errorClass: 'notification-unavailable' });
    expect(classifyError(new NotificationError(429, 'slow down'))).toMatchObject({ kind: 'transient' });
    expect(classifyError(new NotificationError(400, 'bad body'))).toMatchObject({ kind: 'poison', errorClass: 'notification-rejected' });
  });

  it('retries (boundedly) what it does not recognise, and never throws', () => {
    expect(classifyError(new TypeError('x is undefined'))).toEqual({ kind: 'transient', errorClass: 'TypeError', message: 'x is undefined' });
    expect(classifyError('a string')).toMatchObject({ kind: 'transient', message: 'a string' });
    expect(classifyError(undefined)).toMatchObject({ kind: 'transient' });
    // A duplicate key is not retryable as such (the processor turns it into a skip before this point).
    expect(classifyError(Object.assign(new Error('dup'), { errno: 1062, code: 'ER_DUP_ENTRY' }))).toMatchObject({ kind: 'transient', errorClass: 'Error' });
  });
});
