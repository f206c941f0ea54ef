/**
 * The event envelope shared by every service of the wallet ledger (schema:
 * fixtures/avro/wallet-event-envelope.avsc). Identity and causality live in the envelope, the domain
 * change in a typed payload; `eventType` repeats the payload's type so routers, filters and the DLQ
 * replay can select events without decoding payloads.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Amounts are integers in minor units (cents), at most 2^53 - 2: avsc's safe range for an Avro long. */
export type WalletEventPayload =
  | { type: 'AccountOpened'; accountId: string; owner: string; currency: string }
  | { type: 'FundsDeposited'; accountId: string; amount: number }
  | { type: 'FundsWithdrawn'; accountId: string; amount: number }
  | { type: 'TransferDebited'; transferId: string; accountId: string; counterpartyAccountId: string; amount: number }
  | { type: 'TransferCredited'; transferId: string; accountId: string; counterpartyAccountId: string; amount: number };

export type WalletEventType = WalletEventPayload['type'];

export interface EventEnvelope<P extends WalletEventPayload = WalletEventPayload> {
  eventId: string;
  eventType: P['type'];
  aggregateType: string;
  aggregateId: string;
  /** Version of the aggregate after this event (1, 2, 3 … per aggregate). */
  aggregateVersion: number;
  /** Epoch milliseconds. */
  occurredAt: number;
  traceId: string;
  causationId: string | null;
  correlationId: string | null;
  payload: P;
}

export const envelopeSchemaFile = fileURLToPath(new URL('../../fixtures/avro/wallet-event-envelope.avsc', import.meta.url));

/** The envelope's Avro schema as registered (JSON text). */
export function envelopeSchema(): string {
  return fs.readFileSync(envelopeSchemaFile, 'utf8');
}

/** A new envelope with a fresh event id and the current time; ids of the cause are optional. */
export function newEnvelope<P extends WalletEventPayload>(
  payload: P,
  aggregate: { type?: string; id: string; version: number },
  context: { traceId?: string; causationId?: string | null; correlationId?: string | null; occurredAt?: number } = {},
): EventEnvelope<P> {
  return {
    eventId: randomUUID(),
    eventType: payload.type,
    aggregateType: aggregate.type ?? 'account',
    aggregateId: aggregate.id,
    aggregateVersion: aggregate.version,
    occurredAt: context.occurredAt ?? Date.now(),
    traceId: context.traceId ?? randomUUID(),
    causationId: context.causationId ?? null,
    correlationId: context.correlationId ?? null,
    payload,
  };
}
