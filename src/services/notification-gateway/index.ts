/**
 * notification-gateway: the lab's stand-in for an external notification provider (the side effect of
 * E-003). It honours `Idempotency-Key` the way real providers do (Stripe-style): a key is delivered
 * once, a repeat is answered 200 {delivered:false, duplicate:true}; without a key every request is
 * delivered, so a consumer that omits the key shows its duplicates here.
 *
 *   POST   /notifications   {eventId, accountId, eventType, amount}   header Idempotency-Key (optional)
 *   GET    /notifications   {delivered, deliveredCount, duplicatesSuppressed, deliveriesByEventId}
 *   DELETE /notifications   forget everything (between experiment arms)
 */
import { HttpError, createHttpServer, listen } from '../../http/server.ts';
import { createLogger } from '../../observability/logger.ts';
import { ServiceMetrics } from '../../observability/metrics.ts';
import type { RunningService } from '../service.ts';
import { DeliveryBook, type NotificationRequest } from './delivery-book.ts';

export interface NotificationGatewayConfig {
  httpPort?: number;
  logLevel?: string;
}

const notificationBody = {
  type: 'object',
  required: ['eventId', 'accountId', 'eventType', 'amount'],
  additionalProperties: false,
  properties: {
    eventId: { type: 'string', minLength: 1, maxLength: 64 },
    accountId: { type: 'string', minLength: 1, maxLength: 64 },
    eventType: { type: 'string', minLength: 1, maxLength: 64 },
    amount: { type: 'integer', minimum: 0 },
  },
} as const;

export async function startNotificationGateway(config: NotificationGatewayConfig = {}): Promise<RunningService> {
  const logger = createLogger('notification-gateway', config.logLevel);
  const metrics = new ServiceMetrics('notification-gateway');
  const delivered = metrics.counter('notifications_delivered_total', 'Notifications delivered to the recipient', ['key']);
  const duplicates = metrics.counter('notifications_duplicates_suppressed_total', 'Requests whose Idempotency-Key was already delivered');
  const book = new DeliveryBook();

  const app = createHttpServer({ metrics, logger });
  app.post<{ Body: NotificationRequest; Headers: { 'idempotency-key'?: string } }>('/notifications', { schema: { body: notificationBody } }, async (request) => {
    const header = request.headers['idempotency-key'];
    if (header !== undefined && (typeof header !== 'string' || header.length === 0 || header.length > 200)) {
      throw new HttpError(400, 'bad-idempotency-key', 'Idempotency-Key must be 1 to 200 characters');
    }
    const key = header ?? null;
    const outcome = book.deliver(request.body, key);
    if (!outcome.delivered) {
      duplicates.inc();
      request.log.info({ eventId: request.body.eventId, idempotencyKey: key }, 'duplicate suppressed');
      return { delivered: false, duplicate: true };
    }
    delivered.inc({ key: key === null ? 'absent' : 'present' });
    request.log.info({ eventId: request.body.eventId, idempotencyKey: key }, 'delivered');
    return { delivered: true, duplicate: false };
  });
  app.get('/notifications', async () => book.snapshot());
  app.delete('/notifications', async () => {
    book.reset();
    return { reset: true };
  });

  const url = await listen(app, config.httpPort ?? 0);
  let stopped: Promise<void> | undefined;
  return {
    name: 'notification-gateway',
    url,
    metrics,
    stop: () => (stopped ??= app.close()),
  };
}
