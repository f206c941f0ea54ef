import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { poisonKinds } from '../../lab/clients/poison-producer.ts';
import { accountStream, type RecordSender } from '../../lab/clients/record-sender.ts';
import { poisonPlan, poisonStreamCases } from '../../lab/workloads/poison-stream.ts';
import type { EventEnvelope } from '../../src/envelope/index.ts';

describe('poison-stream workload', () => {
  it('plans every poison kind at least once, next to an existing account, after an existing deposit', () => {
    fc.assert(
      fc.property(poisonStreamCases, (c) => {
        const plan = poisonPlan(c);
        expect(new Set(plan.map((p) => p.kind))).toEqual(new Set(poisonKinds));
        expect(plan).toHaveLength(poisonKinds.length + c.poison.length);
        expect(plan.every((p) => p.account >= 0 && p.account < c.accounts && p.after >= 0 && p.after < c.good)).toBe(true);
      }),
    );
  });
});

describe('account stream', () => {
  it('keeps every account on one partition and gives its events consecutive versions', async () => {
    const sent: Array<{ partition: number; e: EventEnvelope }> = [];
    const sender = { sendEvent: async (partition: number, e: EventEnvelope) => (sent.push({ partition, e }), { partition, offset: sent.length - 1, sentAt: 0 }) } as unknown as RecordSender;
    const accounts = ['a', 'b', 'c', 'd'];
    const stream = accountStream(sender, accounts, 3);
    await stream.open();
    for (let i = 0; i < 8; i += 1) await stream.send(i, (accountId) => ({ type: 'FundsDeposited', accountId, amount: i + 1 }));
    const byAccount = new Map<string, Array<{ partition: number; version: number }>>();
    for (const { partition, e } of sent) byAccount.set(e.aggregateId, [...(byAccount.get(e.aggregateId) ?? []), { partition, version: e.aggregateVersion }]);
    expect([...byAccount.keys()]).toEqual(accounts);
    for (const [account, events] of byAccount) {
      expect(new Set(events.map((x) => x.partition)), account).toEqual(new Set([accounts.indexOf(account) % 3]));
      expect(events.map((x) => x.version)).toEqual([1, 2, 3]);
    }
    expect(sent[0]!.e.eventType).toBe('AccountOpened');
  });
});
