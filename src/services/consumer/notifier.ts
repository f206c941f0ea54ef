/** The consumer's external side effect: one POST to the notification provider per applied event. */
import { request } from 'undici';
import type { EventEnvelope } from '../../envelope/envelope.ts';
import { NotificationError } from './errors.ts';
import { eventAmount } from './projection.ts';

export class Notifier {
  constructor(
    private readonly baseUrl: string,
    /** Send `Idempotency-Key: <eventId>` (idempotent mode). Without it, a redelivery notifies twice. */
    private readonly withIdempotencyKey: boolean,
    private readonly timeoutMs = 5000,
  ) {}

  async notify(envelope: EventEnvelope): Promise<{ delivered: boolean; duplicate: boolean }> {
    const body = JSON.stringify({ eventId: envelope.eventId, accountId: envelope.aggregateId, eventType: envelope.eventType, amount: eventAmount(envelope) });
    const response = await request(`${this.baseUrl.replace(/\/$/, '')}/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(this.withIdempotencyKey ? { 'idempotency-key': envelope.eventId } : {}) },
      body,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new NotificationError(response.statusCode, `notification for ${envelope.eventId} failed: HTTP ${response.statusCode} ${text.slice(0, 200)}`);
    return JSON.parse(text) as { delivered: boolean; duplicate: boolean };
  }
}
