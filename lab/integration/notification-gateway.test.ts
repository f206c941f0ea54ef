/**
 * notification-gateway: the lab's external notification provider. Question: does it deliver each
 * Idempotency-Key once and every key-less request, and reject bad bodies? (No cluster needed; it lives
 * under lab/ because experiments run it beside the services.)
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../src/contract.ts';

let gateway: RunningService;

async function post(body: unknown, key?: string) {
  const response = await request(`${gateway.url}/notifications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }) },
    body: JSON.stringify(body),
  });
  return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
}

async function book() {
  const response = await request(`${gateway.url}/notifications`);
  return (await response.body.json()) as { delivered: Array<{ eventId: string; idempotencyKey: string | null }>; deliveredCount: number; duplicatesSuppressed: number; deliveriesByEventId: Record<string, number> };
}

beforeAll(async () => {
  gateway = await startService('notification-gateway', {});
});

afterAll(async () => {
  await gateway?.stop();
});

describe('notification gateway', () => {
  it('delivers a key once, key-less requests every time, and resets', async () => {
    const a = { eventId: 'e-a', accountId: 'acc-1', eventType: 'FundsDeposited', amount: 500 };
    const b = { eventId: 'e-b', accountId: 'acc-1', eventType: 'FundsWithdrawn', amount: 200 };
    expect(await post(a, 'e-a')).toEqual({ status: 200, body: { delivered: true, duplicate: false } });
    expect(await post(a, 'e-a')).toEqual({ status: 200, body: { delivered: false, duplicate: true } });
    // Concurrent repeats of one key: still one delivery.
    const concurrent = await Promise.all(Array.from({ length: 10 }, () => post({ ...a, eventId: 'e-c' }, 'e-c')));
    expect(concurrent.filter((r) => r.body.delivered === true)).toHaveLength(1);
    expect((await post(b)).body).toEqual({ delivered: true, duplicate: false });
    expect((await post(b)).body).toEqual({ delivered: true, duplicate: false });

    const state = await book();
    expect(state.deliveredCount).toBe(4);
    expect(state.duplicatesSuppressed).toBe(10);
    expect(state.deliveriesByEventId).toEqual({ 'e-a': 1, 'e-c': 1, 'e-b': 2 });
    expect(state.delivered.map((d) => d.idempotencyKey)).toEqual(['e-a', 'e-c', null, null]);
    expect(await gateway.metrics.value('notifications_delivered_total')).toBe(4);
    expect(await gateway.metrics.value('notifications_duplicates_suppressed_total')).toBe(10);

    expect((await request(`${gateway.url}/notifications`, { method: 'DELETE' })).statusCode).toBe(200);
    expect(await book()).toEqual({ delivered: [], deliveredCount: 0, duplicatesSuppressed: 0, deliveriesByEventId: {} });
    // After a reset a key is new again.
    expect((await post(a, 'e-a')).body).toEqual({ delivered: true, duplicate: false });
  });

  it('rejects a bad body with 400 and delivers nothing', async () => {
    await request(`${gateway.url}/notifications`, { method: 'DELETE' });
    for (const bad of [{}, { eventId: 'e', accountId: 'a', eventType: 'X' }, { eventId: 'e', accountId: 'a', eventType: 'X', amount: 'ten' }, { eventId: '', accountId: 'a', eventType: 'X', amount: 1 }, { eventId: 'e', accountId: 'a', eventType: 'X', amount: -1 }]) {
      const response = await post(bad, 'k');
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('bad-request');
    }
    const notJson = await request(`${gateway.url}/notifications`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(notJson.statusCode).toBe(400);
    await notJson.body.dump();
    expect((await book()).deliveredCount).toBe(0);
  });
});
