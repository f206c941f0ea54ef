/** consumer-service batch apply: a batch's plan has the effect of applying its events one by one, or refuses. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newEnvelope, type EventEnvelope } from '../../src/envelope/index.ts';
import { planBatch, type AccountChange } from '../../src/services/consumer/batch-plan.ts';
import { balanceDelta } from '../../src/services/consumer/projection.ts';

const opened = (accountId: string) => newEnvelope({ type: 'AccountOpened', accountId, owner: 'o', currency: 'EUR' }, { id: accountId, version: 1 });
const deposit = (accountId: string, version: number, amount = 10) => newEnvelope({ type: 'FundsDeposited', accountId, amount }, { id: accountId, version });
const withdrawal = (accountId: string, version: number, amount: number) => newEnvelope({ type: 'FundsWithdrawn', accountId, amount }, { id: accountId, version });

/** The projection as the per-record path leaves it: the reference the plan is held to. */
function oneByOne(start: Map<string, { balance: number; version: number }>, events: EventEnvelope[]) {
  const rows = new Map([...start].map(([k, v]) => [k, { ...v }]));
  for (const e of events) {
    const row = rows.get(e.aggregateId) ?? { balance: 0, version: 0 };
    rows.set(e.aggregateId, { balance: row.balance + balanceDelta(e), version: e.aggregateVersion });
  }
  return rows;
}

function applyPlan(start: Map<string, { balance: number; version: number }>, changes: AccountChange[]) {
  const rows = new Map([...start].map(([k, v]) => [k, { ...v }]));
  for (const c of changes) {
    if (c.opened) rows.set(c.accountId, { balance: c.delta, version: c.version });
    else {
      const row = rows.get(c.accountId)!;
      expect(row.version).toBe(c.expectedVersion);
      rows.set(c.accountId, { balance: row.balance + c.delta, version: c.version });
    }
  }
  return rows;
}

describe('planBatch', () => {
  it('sums each account into one change: opened accounts inserted, the others updated on top of the version before', () => {
    const events = [opened('a'), deposit('a', 2, 10), deposit('b', 8, 5), withdrawal('a', 3, 4)];
    expect(planBatch(events)).toEqual({
      changes: [
        { accountId: 'a', opened: { owner: 'o', currency: 'EUR' }, version: 3, delta: 6, lastEventId: events[3]!.eventId },
        { accountId: 'b', expectedVersion: 7, version: 8, delta: 5, lastEventId: events[2]!.eventId },
      ],
    });
  });

  it('has the effect of applying the events one by one (any interleaving of consecutive versions)', () => {
    const history = fc.array(fc.record({ account: fc.constantFrom('a', 'b', 'c', 'd'), amount: fc.integer({ min: 1, max: 1000 }), debit: fc.boolean() }), { minLength: 1, maxLength: 200 });
    fc.assert(
      fc.property(history, fc.constantFrom(0, 1, 5), (steps, startVersion) => {
        const start = new Map(startVersion ? ['a', 'b', 'c', 'd'].map((id) => [id, { balance: 100_000, version: startVersion as number }] as const) : []);
        const versions = new Map([...start].map(([id, row]) => [id, row.version]));
        const events = steps.map(({ account, amount, debit }) => {
          const version = (versions.get(account) ?? 0) + 1;
          versions.set(account, version);
          if (version === 1) return opened(account);
          return debit ? withdrawal(account, version, amount) : deposit(account, version, amount);
        });
        const plan = planBatch(events);
        if ('conflict' in plan) throw new Error(plan.conflict);
        expect(applyPlan(start, plan.changes)).toEqual(oneByOne(start, events));
        expect(plan.changes.map((c) => c.lastEventId).sort()).toEqual([...new Set(plan.changes.map((c) => c.accountId))].map((id) => events.filter((e) => e.aggregateId === id).at(-1)!.eventId).sort());
      }),
    );
  });

  it('refuses what is not the plain case, for the per-record rules to decide', () => {
    const d2 = deposit('a', 2);
    expect(planBatch([d2, d2])).toMatchObject({ conflict: expect.stringContaining('twice in one batch') });
    expect(planBatch([deposit('a', 2), deposit('a', 4)])).toMatchObject({ conflict: expect.stringContaining('version 4 after 2') }); // a gap
    expect(planBatch([deposit('a', 3), deposit('a', 3)])).toMatchObject({ conflict: expect.stringContaining('version 3 after 3') }); // a replayed version
    expect(planBatch([deposit('a', 2), opened('a')])).toMatchObject({ conflict: expect.stringContaining('AccountOpened') });
    expect(planBatch([deposit('a', 2, Number.MAX_SAFE_INTEGER), deposit('a', 3, Number.MAX_SAFE_INTEGER)])).toMatchObject({ conflict: expect.stringContaining('safe integer') });
  });
});
