import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EnvelopeDecodeError,
  EnvelopeEncodeError,
  EnvelopeSerde,
  envelopeSchema,
  frame,
  InMemorySchemaSource,
  newEnvelope,
  type EventEnvelope,
  type WalletEventPayload,
} from '../../src/envelope/index.ts';

const subject = 'wallet.events-value';
const serde = () => new EnvelopeSerde(new InMemorySchemaSource(), { subject });

async function decodeError(promise: Promise<unknown>): Promise<EnvelopeDecodeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EnvelopeDecodeError);
  return error as EnvelopeDecodeError;
}

const id = fc.stringMatching(/^[a-z0-9-]{1,20}$/);
/** avsc encodes JS numbers as Avro longs only up to 2^53 - 2 (its own safe bound; fast-check found it). */
const maxAmount = 9_007_199_254_740_990;
const amount = fc.integer({ min: 1, max: maxAmount });
const payload: fc.Arbitrary<WalletEventPayload> = fc.oneof(
  fc.record({ type: fc.constant('AccountOpened' as const), accountId: id, owner: fc.string(), currency: fc.constantFrom('KRW', 'USD', 'EUR') }),
  fc.record({ type: fc.constant('FundsDeposited' as const), accountId: id, amount }),
  fc.record({ type: fc.constant('FundsWithdrawn' as const), accountId: id, amount }),
  fc.record({ type: fc.constant('TransferDebited' as const), transferId: id, accountId: id, counterpartyAccountId: id, amount }),
  fc.record({ type: fc.constant('TransferCredited' as const), transferId: id, accountId: id, counterpartyAccountId: id, amount }),
);
const envelope: fc.Arbitrary<EventEnvelope> = fc
  .record({
    payload,
    eventId: fc.uuid(),
    aggregateVersion: fc.integer({ min: 1, max: 1_000_000 }),
    occurredAt: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    traceId: fc.uuid(),
    causationId: fc.option(fc.uuid(), { nil: null }),
    correlationId: fc.option(fc.string(), { nil: null }),
  })
  .map((r) => ({ ...r, eventType: r.payload.type, aggregateType: 'account', aggregateId: 'accountId' in r.payload ? r.payload.accountId : 'x' }));

describe('EnvelopeSerde', () => {
  it('round-trips every payload type and every optional field (property)', async () => {
    const s = serde();
    await fc.assert(
      fc.asyncProperty(envelope, async (value) => {
        expect(await s.decode(await s.encode(value))).toEqual(value);
      }),
      { numRuns: 300 },
    );
  });

  it('writes the Confluent wire format: magic byte 0 and the registered schema id', async () => {
    const s = serde();
    const bytes = await s.encode(newEnvelope({ type: 'FundsDeposited', accountId: 'a-1', amount: 500 }, { id: 'a-1', version: 2 }));
    expect(bytes[0]).toBe(0);
    expect(bytes.readInt32BE(1)).toBe(await s.schemaId());
  });

  it('rejects a wrong magic byte with a reason that names the format', async () => {
    const error = await decodeError(serde().decode(Buffer.from('{"json":"not avro"}')));
    expect(error.reason).toBe('bad-magic-byte');
    expect(error.message).toMatch(/0x7b, expected 0x00/);
  });

  it('rejects an unknown schema id with that id', async () => {
    const error = await decodeError(serde().decode(frame(4242, Buffer.from([2, 4, 6]))));
    expect(error.reason).toBe('unknown-schema-id');
    expect(error.schemaId).toBe(4242);
  });

  it('rejects empty, truncated and malformed bodies', async () => {
    const s = serde();
    expect((await decodeError(s.decode(Buffer.alloc(0)))).reason).toBe('empty');
    expect((await decodeError(s.decode(null))).reason).toBe('empty');
    expect((await decodeError(s.decode(Buffer.from([0, 0, 0])))).reason).toBe('truncated');
    const id = await s.schemaId();
    expect((await decodeError(s.decode(frame(id, Buffer.from([0xff, 0xff, 0xff]))))).reason).toBe('malformed-avro');
  });

  it('reads events written with an older schema (new optional field gets its default)', async () => {
    const source = new InMemorySchemaSource();
    const v1 = JSON.parse(envelopeSchema());
    v1.fields = v1.fields.filter((field: { name: string }) => field.name !== 'correlationId');
    const oldWriter = new EnvelopeSerde(source, { subject, schema: JSON.stringify(v1) });
    const reader = new EnvelopeSerde(source, { subject });
    const written = newEnvelope({ type: 'FundsWithdrawn', accountId: 'a-9', amount: 7 }, { id: 'a-9', version: 3 });
    const { correlationId, ...withoutCorrelation } = written;
    expect(correlationId).toBeNull();
    const bytes = await oldWriter.encode(withoutCorrelation as EventEnvelope);
    expect(await reader.decode(bytes)).toEqual(written);
  });

  it('a build whose schema carries aggregateVersion as a string writes decimal text and reads the number back (E-015 v2)', async () => {
    const source = new InMemorySchemaSource();
    const v2 = JSON.parse(envelopeSchema());
    v2.fields.find((field: { name: string }) => field.name === 'aggregateVersion').type = 'string';
    const serdeV2 = new EnvelopeSerde(source, { subject: 'v2', schema: JSON.stringify(v2) });
    const written = newEnvelope({ type: 'FundsDeposited', accountId: 'a-2', amount: 5 }, { id: 'a-2', version: 41 });
    const bytes = await serdeV2.encode(written);
    expect(bytes.subarray(5).includes(Buffer.from('41'))).toBe(true);
    expect(await serdeV2.decode(bytes)).toEqual(written);
    // the v1 build cannot read it: a long reader for a string writer
    expect((await decodeError(new EnvelopeSerde(source, { subject }).decode(bytes))).reason).toBe('incompatible-schema');
    const text = (await import('avsc')).default.Type.forSchema(v2, { wrapUnions: 'auto' });
    const notANumber = frame(await serdeV2.schemaId(), text.toBuffer({ ...written, aggregateVersion: '4x1', payload: { 'lab.wallet.FundsDeposited': { accountId: 'a-2', amount: 5 } } }));
    expect((await decodeError(serdeV2.decode(notANumber))).reason).toBe('invalid-envelope');
  });

  it('names an incompatible writer schema as such', async () => {
    const source = new InMemorySchemaSource();
    const other = { type: 'record', name: 'EventEnvelope', namespace: 'lab.wallet', fields: [{ name: 'eventId', type: 'long' }] };
    const id = await source.register(subject, JSON.stringify(other));
    const error = await decodeError(new EnvelopeSerde(source, { subject }).decode(frame(id, Buffer.from([2]))));
    expect(error.reason).toBe('incompatible-schema');
  });

  it('refuses to encode an envelope that does not fit the schema, naming the field', async () => {
    const bad = newEnvelope({ type: 'FundsDeposited', accountId: 'a-1', amount: 1.5 }, { id: 'a-1', version: 1 });
    await expect(serde().encode(bad)).rejects.toThrow(EnvelopeEncodeError);
    await expect(serde().encode(bad)).rejects.toThrow(/payload/);
    const huge = newEnvelope({ type: 'FundsDeposited', accountId: 'a-1', amount: maxAmount + 1 }, { id: 'a-1', version: 1 });
    await expect(serde().encode(huge)).rejects.toThrow(/payload\.lab\.wallet\.FundsDeposited\.amount/);
    const mismatched = { ...bad, eventType: 'FundsWithdrawn' as const } as unknown as EventEnvelope;
    await expect(serde().encode(mismatched)).rejects.toThrow(/does not match payload type/);
  });
});
