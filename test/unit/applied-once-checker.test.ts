import { describe, expect, it } from 'vitest';
import { balanceChange, checkAppliedOnce } from '../../lab/checkers/applied.ts';
import { newEnvelope } from '../../src/envelope/index.ts';

const opened = newEnvelope({ type: 'AccountOpened', accountId: 'a', owner: 'o', currency: 'KRW' }, { id: 'a', version: 1 });
const deposit = newEnvelope({ type: 'FundsDeposited', accountId: 'a', amount: 100 }, { id: 'a', version: 2 });
const withdrawal = newEnvelope({ type: 'FundsWithdrawn', accountId: 'a', amount: 30 }, { id: 'a', version: 3 });
const events = [opened, deposit, withdrawal];
const once = new Map(events.map((e) => [e.eventId, 1]));

describe('applied-once checker', () => {
  it('signs each event’s change to its balance', () => {
    expect(events.map(balanceChange)).toEqual([0, 100, -30]);
  });

  it('passes when every event was applied once and the balance is their sum', () => {
    const v = checkAppliedOnce(events, once, new Map([['a', { balance: 70, version: 3 }]]));
    expect(v.valid).toBe(true);
    expect(v.counts).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0, wrongBalance: 0, events: 3, applied: 3 });
  });

  it('flags lost, double-applied and unexpected events and a wrong balance', () => {
    const applied = new Map([[opened.eventId, 1], [deposit.eventId, 2], ['stranger', 1]]);
    const v = checkAppliedOnce(events, applied, new Map([['a', { balance: 200, version: 2 }]]));
    expect(v.counts).toMatchObject({ lost: 1, duplicated: 1, unexpected: 1, wrongBalance: 1 });
    expect(v.examples.wrongBalance).toEqual([{ account: 'a', expected: 70, projected: 200 }]);
  });
});
