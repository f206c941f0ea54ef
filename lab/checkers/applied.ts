/**
 * Applied-once checker for events produced straight to the topic: the projection applied exactly the
 * events sent, each once, and every account's projected balance is the sum of its events.
 *
 *   const v = checkAppliedOnce(events, await applications(pool), await projectedBalances(pool));
 *   v.counts.lost, v.counts.duplicated, v.counts.unexpected, v.counts.wrongBalance   // all 0
 *
 * Pure: lab/observe/database.ts reads the applications and balances.
 */
import type { EventEnvelope } from '../../src/contract.ts';
import type { BalanceState } from './state.ts';
import { verdict, type Verdict } from './verdict.ts';

/** What an event does to its account's balance (an opening: nothing). */
export function balanceChange(e: EventEnvelope): number {
  const p = e.payload;
  return p.type === 'FundsDeposited' || p.type === 'TransferCredited' ? p.amount : p.type === 'FundsWithdrawn' || p.type === 'TransferDebited' ? -p.amount : 0;
}

export function checkAppliedOnce(events: EventEnvelope[], applied: ReadonlyMap<string, number>, balances: ReadonlyMap<string, BalanceState>): Verdict {
  const sent = new Set(events.map((e) => e.eventId));
  const expected = new Map<string, number>();
  for (const e of events) expected.set(e.aggregateId, (expected.get(e.aggregateId) ?? 0) + balanceChange(e));
  return verdict(
    'applied once',
    {
      lost: events.filter((e) => !applied.has(e.eventId)).map((e) => e.eventId),
      duplicated: [...applied].filter(([, n]) => n > 1).map(([id, times]) => ({ id, times })),
      unexpected: [...applied.keys()].filter((id) => !sent.has(id)),
      wrongBalance: [...expected].filter(([account, balance]) => balances.get(account)?.balance !== balance).map(([account, balance]) => ({ account, expected: balance, projected: balances.get(account)?.balance })),
    },
    { events: events.length, applied: applied.size },
  );
}
