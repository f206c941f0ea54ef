/**
 * Poison records: what a consumer can never process, however often it tries — one per class the
 * consumer's DLQ names, and one record too large for the DLQ once the failure headers are added.
 *
 *   const record = await poisonRecord(sender.encode, 'unknown-schema-id', 'acct-1');
 *   const sent = await sender.send(partition, record.key, record.value, record.headers);
 *   errorClassOf(record.kind);    // the DLQ's lab.error.class for it: 'unknown-schema-id'
 *
 * Each carries an event-id header (also the undecodable ones), so its dead letter can be matched to
 * what was sent; the key is the account it sits next to (same partition as its good events).
 */
import { randomUUID } from 'node:crypto';
import { envelopeHeaders, eventHeaders, frame, newEnvelope, type EventEnvelope, type KafkaHeaders } from '../../src/contract.ts';

export const poisonKinds = ['bad-magic-byte', 'truncated', 'unknown-schema-id', 'unknown-account', 'invalid-amount', 'oversized'] as const;
export type PoisonKind = (typeof poisonKinds)[number];

/**
 * The oversized kind's value: just below the broker's default max message (1,048,588 bytes per record
 * batch), so the events topic takes it but the same value plus the DLQ's failure headers is too large.
 */
export const oversizedValueBytes = 1_048_400;

/** The DLQ error class of a poison kind: the oversized record is JSON bytes, so `bad-magic-byte`. */
export const errorClassOf = (kind: PoisonKind): string => (kind === 'oversized' ? 'bad-magic-byte' : kind);

export interface PoisonRecord {
  kind: PoisonKind;
  eventId: string;
  key: string;
  value: Buffer;
  headers: KafkaHeaders;
}

/** One poison record of `kind` next to account `key`; `encode` is the registry serializer (two kinds are valid Avro). */
export async function poisonRecord(encode: (e: EventEnvelope) => Promise<Buffer>, kind: PoisonKind, key: string): Promise<PoisonRecord> {
  const eventId = randomUUID();
  const raw = (value: Buffer): PoisonRecord => ({ kind, eventId, key, value, headers: { [eventHeaders.eventId]: eventId, [eventHeaders.eventType]: 'FundsDeposited' } });
  const encoded = async (e: EventEnvelope): Promise<PoisonRecord> => ({ kind, eventId: e.eventId, key, value: await encode(e), headers: envelopeHeaders(e) });
  switch (kind) {
    case 'bad-magic-byte': // JSON where Avro was expected: produced without the registry serializer
      return raw(Buffer.from(JSON.stringify({ eventId, accountId: key, amount: 5 })));
    case 'oversized': {
      // JSON again, padded to ~1 MiB: the DLQ rejects the full dead letter, the consumer writes a
      // truncated fallback naming the original offset (issue 7: this used to stop the consumer for good).
      const value = Buffer.alloc(oversizedValueBytes, ' ');
      value.write(JSON.stringify({ eventId, accountId: key, amount: 5, padding: true }));
      return raw(value);
    }
    case 'truncated': // magic byte, then less than a schema id
      return raw(Buffer.from([0, 0, 1]));
    case 'unknown-schema-id': // the wire format, with a schema id the registry never issued
      return raw(frame(900_000_000 + Math.floor(Math.random() * 1000), Buffer.from([2, 4, 6])));
    case 'unknown-account': {
      const ghost = `ghost-${eventId.slice(0, 8)}`;
      return encoded(newEnvelope({ type: 'FundsDeposited', accountId: ghost, amount: 10 }, { id: ghost, version: 2 }));
    }
    case 'invalid-amount':
      return encoded(newEnvelope({ type: 'FundsDeposited', accountId: key, amount: 0 }, { id: key, version: 1_000_000 }));
  }
}
