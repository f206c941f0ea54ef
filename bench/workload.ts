/**
 * The bench's data: valid event histories (per account AccountOpened v1, then deposits v2, v3 … with no
 * gap — the idempotent consumer refuses a version gap, so anything else would measure its retry path),
 * the outbox rows the command-service would have written for them, and their encoded size.
 */
import { EnvelopeSerde, InMemorySchemaSource, outboxRow, type EventEnvelope } from '../src/contract.ts';
import { walletEvents } from '../lab/clients/event-producer.ts';
import type { IsolatedDatabase } from '../lab/infra/isolation.ts';

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

/** The outbox rows exactly as the command-service writes them (`outboxRow`), in event order. */
export async function fillOutbox(database: IsolatedDatabase, events: EventEnvelope[], chunk = 1000): Promise<void> {
  for (let i = 0; i < events.length; i += chunk) {
    await database.pool.query(
      'INSERT INTO outbox_event (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, shard, payload, headers) VALUES ?',
      [events.slice(i, i + chunk).map((event) => outboxRow(event))],
    );
  }
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
