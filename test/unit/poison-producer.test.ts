import { describe, expect, it } from 'vitest';
import { errorClassOf, oversizedValueBytes, poisonKinds, poisonRecord } from '../../lab/clients/poison-producer.ts';
import { eventHeaders } from '../../src/kafka/headers.ts';
import type { EventEnvelope } from '../../src/envelope/index.ts';

/** Stands in for the registry serializer: the envelope as JSON behind a marker byte. */
const encode = async (e: EventEnvelope) => Buffer.concat([Buffer.from([0xaa]), Buffer.from(JSON.stringify(e))]);

describe('poison producer', () => {
  it('makes one record of each kind next to the account, with an event id to match its dead letter', async () => {
    for (const kind of poisonKinds) {
      const r = await poisonRecord(encode, kind, 'acct-3');
      expect(r.kind).toBe(kind);
      expect(r.key).toBe('acct-3');
      expect(r.headers[eventHeaders.eventId]).toBe(r.eventId);
    }
  });

  it('makes each kind the way the consumer cannot process it', async () => {
    const of = async (kind: (typeof poisonKinds)[number]) => poisonRecord(encode, kind, 'acct-3');
    expect((await of('bad-magic-byte')).value[0]).toBe('{'.charCodeAt(0)); // no magic byte 0
    expect([...(await of('truncated')).value]).toEqual([0, 0, 1]); // magic byte, half a schema id
    const unknownSchema = (await of('unknown-schema-id')).value;
    expect(unknownSchema[0]).toBe(0);
    expect(unknownSchema.readUInt32BE(1)).toBeGreaterThanOrEqual(900_000_000);
    const ghost = JSON.parse((await of('unknown-account')).value.subarray(1).toString()) as EventEnvelope;
    expect(ghost.aggregateId).toMatch(/^ghost-/);
    const zero = JSON.parse((await of('invalid-amount')).value.subarray(1).toString()) as EventEnvelope;
    expect(zero.payload).toMatchObject({ type: 'FundsDeposited', accountId: 'acct-3', amount: 0 });
  });

  it('makes the oversized record fit a topic but not the DLQ with its failure headers, classed as JSON', async () => {
    const big = await poisonRecord(encode, 'oversized', 'acct-3');
    expect(big.value.length).toBe(oversizedValueBytes);
    expect(oversizedValueBytes).toBeLessThan(1_048_588);
    expect(errorClassOf('oversized')).toBe('bad-magic-byte');
    expect(errorClassOf('truncated')).toBe('truncated');
  });
});
