/**
 * The bench's data: valid event histories (per account AccountOpened v1, then deposits v2, v3 … with no
 * gap — the idempotent consumer refuses a version gap, so anything else would measure its retry path)
 * and their encoded size. The outbox rows for them: lab/clients/outbox-writer.ts.
 */
import { EnvelopeSerde, InMemorySchemaSource, type EventEnvelope } from '../src/contract.ts';
import { walletEvents } from '../lab/clients/event-producer.ts';

export function benchAccounts(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
}

/**
 * `records` events over `accounts`: the openings first, then deposits round-robin over the accounts. Any
 * prefix of that order is a gapless history per account, so cutting it at `records` keeps it valid.
 */
export function eventHistory(records: number, accounts: string[]): EventEnvelope[] {
  const depositsPerAccount = Math.ceil(Math.max(0, records - accounts.length) / accounts.length);
  return walletEvents(accounts, depositsPerAccount).slice(0, records);
}

/**
 * Mean size in bytes of the events' record values (Avro in the Confluent wire format). The framing is a
 * fixed 5 bytes whatever the schema id, so an in-memory schema source gives the registry's sizes.
 */
export async function meanEncodedBytes(events: EventEnvelope[]): Promise<number> {
  const serde = new EnvelopeSerde(new InMemorySchemaSource(), { subject: 'bench-value' });
  let bytes = 0;
  for (const event of events) bytes += (await serde.encode(event)).length;
  return bytes / events.length;
}
