import { describe, expect, it } from 'vitest';
import { HttpError } from '../../src/http/server.ts';
import { canonicalJson, requestHash, requireIdempotencyKey } from '../../src/services/command/idempotency.ts';
import { outboxRow, outboxShard } from '../../src/services/command/outbox.ts';
import { assertJsonNumbers, isValidAmount, isValidId, maxAmount } from '../../src/services/command/validation.ts';
import { newEnvelope } from '../../src/envelope/envelope.ts';

describe('command-service request helpers', () => {
  it('hashes the same request alike regardless of key order, and different requests differently', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
    const hash = requestHash('POST', '/accounts/a-1/deposits', { amount: 5 });
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(requestHash('post', '/accounts/a-1/deposits', { amount: 5 })).toBe(hash);
    expect(requestHash('POST', '/transfers', { amount: 5, fromAccountId: 'a', toAccountId: 'b' })).toBe(requestHash('POST', '/transfers', { toAccountId: 'b', fromAccountId: 'a', amount: 5 }));
    expect(requestHash('POST', '/accounts/a-1/deposits', { amount: 6 })).not.toBe(hash);
    expect(requestHash('POST', '/accounts/a-1/withdrawals', { amount: 5 })).not.toBe(hash);
    expect(requestHash('POST', '/accounts/a-2/deposits', { amount: 5 })).not.toBe(hash);
  });

  it('requires a usable idempotency key', () => {
    expect(requireIdempotencyKey('k-1')).toBe('k-1');
    expect(requireIdempotencyKey(['k-2', 'k-3'])).toBe('k-2');
    for (const bad of [undefined, '', '   ', 'x'.repeat(129)]) {
      const error = (() => {
        try {
          requireIdempotencyKey(bad);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(HttpError);
      expect((error as HttpError).statusCode).toBe(400);
    }
  });

  it('accepts ids and amounts within the contract only', () => {
    expect(isValidId('acct_01-A')).toBe(true);
    expect(isValidId('x'.repeat(64))).toBe(true);
    for (const bad of ['', 'x'.repeat(65), 'a b', 'a/b', 'ä', 5]) expect(isValidId(bad)).toBe(false);
    expect(isValidAmount(1)).toBe(true);
    expect(isValidAmount(maxAmount)).toBe(true);
    for (const bad of [0, -1, 1.5, maxAmount + 1, '100', Number.NaN]) expect(isValidAmount(bad)).toBe(false);
    expect(() => assertJsonNumbers({ amount: '100' }, ['amount'])).toThrow(HttpError);
    expect(() => assertJsonNumbers({ amount: 100 }, ['amount'])).not.toThrow();
    expect(() => assertJsonNumbers(undefined, ['amount'])).not.toThrow();
  });

  it('shards by crc32 of the aggregate id and writes the contract columns', () => {
    expect(outboxShard('123456789', 32_767)).toBe(0xcbf43926 % 32_767); // the CRC-32 check value
    for (const id of ['a', 'acct-01', 'acct-02']) {
      const shard = outboxShard(id);
      expect(shard).toBeGreaterThanOrEqual(0);
      expect(shard).toBeLessThan(16);
      expect(outboxShard(id)).toBe(shard);
    }
    expect(() => outboxShard('a', 0)).toThrow();
    const envelope = newEnvelope({ type: 'FundsDeposited', accountId: 'acct-01', amount: 5 }, { id: 'acct-01', version: 2 });
    const row = outboxRow(envelope, 16);
    expect(row.slice(0, 6)).toEqual([envelope.eventId, 'account', 'acct-01', 2, 'FundsDeposited', outboxShard('acct-01', 16)]);
    expect(JSON.parse(row[6] as string)).toEqual(envelope);
    expect(JSON.parse(row[7] as string)).toEqual({ 'event-id': envelope.eventId, 'event-type': 'FundsDeposited', 'trace-id': envelope.traceId, 'aggregate-id': 'acct-01' });
  });
});
