/**
 * The notification provider's memory: what it delivered, and which idempotency keys it has seen.
 * In memory on purpose: the gateway stands in for an external system (an e-mail/SMS provider), whose
 * state the lab only observes through its API; nothing in the wallet may depend on it surviving.
 */

export interface NotificationRequest {
  eventId: string;
  accountId: string;
  eventType: string;
  amount: number;
}

export interface Delivery extends NotificationRequest {
  idempotencyKey: string | null;
  /** Epoch ms of the delivery. */
  deliveredAt: number;
}

export type DeliveryOutcome = { delivered: true; delivery: Delivery } | { delivered: false; duplicate: true };

export class DeliveryBook {
  private readonly deliveries: Delivery[] = [];
  private readonly keys = new Set<string>();
  private readonly perEvent = new Map<string, number>();
  private suppressed = 0;

  /**
   * Delivers unless `idempotencyKey` was seen before. Synchronous, so the check and the record are one
   * step on Node's single thread: two concurrent requests with one key can never both deliver.
   * Without a key every request is delivered: that is how a naive client double-notifies.
   */
  deliver(request: NotificationRequest, idempotencyKey: string | null, now = Date.now()): DeliveryOutcome {
    if (idempotencyKey !== null) {
      if (this.keys.has(idempotencyKey)) {
        this.suppressed += 1;
        return { delivered: false, duplicate: true };
      }
      this.keys.add(idempotencyKey);
    }
    const delivery: Delivery = { ...request, idempotencyKey, deliveredAt: now };
    this.deliveries.push(delivery);
    this.perEvent.set(request.eventId, (this.perEvent.get(request.eventId) ?? 0) + 1);
    return { delivered: true, delivery };
  }

  snapshot() {
    return {
      delivered: [...this.deliveries],
      deliveredCount: this.deliveries.length,
      duplicatesSuppressed: this.suppressed,
      deliveriesByEventId: Object.fromEntries(this.perEvent),
    };
  }

  reset(): void {
    this.deliveries.length = 0;
    this.keys.clear();
    this.perEvent.clear();
    this.suppressed = 0;
  }
}
