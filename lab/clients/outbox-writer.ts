/**
 * Writes outbox rows exactly as the command-service writes them (`outboxRow` of the contract), in the
 * order given, without the command-service: for suites and benchmarks of the relay, which start from a
 * filled outbox. `shards` must match the relay's `outboxShards` (the contract's default otherwise).
 */
import type { Pool } from 'mysql2/promise';
import { outboxRow, type EventEnvelope } from '../../src/contract.ts';

export async function writeOutboxRows(pool: Pool, events: EventEnvelope[], options: { shards?: number; chunk?: number } = {}): Promise<void> {
  const chunk = options.chunk ?? 500;
  for (let i = 0; i < events.length; i += chunk) {
    await pool.query('INSERT INTO outbox_event (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, shard, payload, headers) VALUES ?', [
      events.slice(i, i + chunk).map((event) => outboxRow(event, options.shards)),
    ]);
  }
}
