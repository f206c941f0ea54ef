/**
 * The transactional outbox's write side: rows written in the same transaction as the domain change, so
 * an event exists exactly when its change committed. The relay (src/services/relay) publishes them.
 *
 * Contract with the relay: payload = JSON of the envelope, headers = JSON of the Kafka headers,
 * shard = crc32(aggregateId) % shards. All events of one aggregate share a shard, and a relay publishes a
 * shard only while holding its lock, so an account's events reach Kafka in version order.
 */
import zlib from 'node:zlib';
import type { EventEnvelope } from '../../envelope/envelope.ts';
import { envelopeHeaders } from '../../kafka/headers.ts';
import type { Statement } from './query.ts';

export const defaultOutboxShards = 16;

/** crc32 (zlib's, IEEE) of the UTF-8 aggregate id, modulo the shard count. */
export function outboxShard(aggregateId: string, shards = defaultOutboxShards): number {
  if (!Number.isInteger(shards) || shards < 1 || shards > 32_767) throw new Error(`outboxShards must be an integer in [1, 32767], got ${shards}`);
  return zlib.crc32(Buffer.from(aggregateId, 'utf8')) % shards;
}

/** The outbox row of one envelope, as the columns the relay reads. */
export function outboxRow(envelope: EventEnvelope, shards = defaultOutboxShards): unknown[] {
  return [
    envelope.eventId,
    envelope.aggregateType,
    envelope.aggregateId,
    envelope.aggregateVersion,
    envelope.eventType,
    outboxShard(envelope.aggregateId, shards),
    JSON.stringify(envelope),
    JSON.stringify(envelopeHeaders(envelope)),
  ];
}

/**
 * The outbox rows of a command in one INSERT, in the envelopes' order (ids ascend in this order, which is
 * the order the relay publishes). Must run after the account's row lock is taken: the lock is what makes
 * version n's row get a smaller id than version n+1's.
 */
export function insertOutboxEvents(envelopes: EventEnvelope[], shards = defaultOutboxShards): Statement[] {
  if (envelopes.length === 0) return [];
  return [
    {
      sql: 'INSERT INTO outbox_event (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, shard, payload, headers) VALUES ?',
      params: [envelopes.map((envelope) => outboxRow(envelope, shards))],
    },
  ];
}
