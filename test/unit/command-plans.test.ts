/**
 * The command-service's commands as plans (src/services/command/ledger.ts): what they lock, in which
 * order, and how they decide from the locked rows. The SQL itself runs in lab/integration/command-service.
 */
import { describe, expect, it } from 'vitest';
import { isDuplicatePrimaryKey } from '../../src/db/pool.ts';
import { HttpError } from '../../src/http/server.ts';
import { deposit, openAccount, transfer, withdraw } from '../../src/services/command/ledger.ts';
import { maxAmount } from '../../src/services/command/validation.ts';

const context = { traceId: 'trace-1' };
const row = (id: string, balance: number, version: number) => [{ id, owner: id, currency: 'EUR', balance, version }];
const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (error instanceof HttpError) return { status: error.statusCode, error: error.error };
    throw error;
  }
  return undefined;
};

describe('command plans', () => {
  it('locks the account, then writes the new balance and version read under the lock, and its event at that version', () => {
    const plan = deposit('a-1', 50, context);
    expect(plan.reads).toEqual([{ sql: expect.stringMatching(/FROM accounts WHERE id = \? FOR UPDATE$/), params: ['a-1'] }]);
    const { writes, result } = plan.decide([row('a-1', 100, 7)]);
    expect(writes[0]).toEqual({ sql: expect.stringMatching(/^UPDATE accounts SET balance = \?, version = \?/), params: [150, 8, 'a-1'] });
    expect(writes[1]!.sql).toMatch(/^INSERT INTO ledger_entries .* VALUES \?$/);
    expect(result.body).toEqual({ accountId: 'a-1', balance: 150, version: 8, eventIds: [result.envelopes[0]!.eventId] });
    expect(result.envelopes[0]).toMatchObject({ eventType: 'FundsDeposited', aggregateId: 'a-1', aggregateVersion: 8, traceId: 'trace-1', payload: { amount: 50 } });
    // Same fields in the same order as newEnvelope: the outbox payload's JSON reads as it always did.
    expect(Object.keys(result.envelopes[0]!)).toEqual(['eventId', 'eventType', 'aggregateType', 'aggregateId', 'aggregateVersion', 'occurredAt', 'traceId', 'causationId', 'correlationId', 'payload']);
  });

  it('refuses from the locked rows: 404 unknown account, 409 insufficient funds, 409 balance limit', () => {
    expect(refusal(() => deposit('nobody', 1, context).decide([[]]))).toEqual({ status: 404, error: 'account-not-found' });
    expect(refusal(() => withdraw('a-1', 101, context).decide([row('a-1', 100, 2)]))).toEqual({ status: 409, error: 'insufficient-funds' });
    expect(refusal(() => deposit('a-1', maxAmount, context).decide([row('a-1', 1, 2)]))).toEqual({ status: 409, error: 'balance-limit' });
  });

  it('locks both accounts of a transfer in ascending id order, whichever way the money goes', () => {
    for (const [from, to] of [['b', 'a'], ['a', 'b']] as const) {
      const plan = transfer({ transferId: 't', fromAccountId: from, toAccountId: to, amount: 5 }, context);
      expect(plan.reads.slice(0, 2).map((read) => read.params[0])).toEqual(['a', 'b']);
      expect(plan.reads[2]!.sql).toMatch(/FROM transfers WHERE id = \?/);
    }
    const { writes, result } = transfer({ transferId: 't', fromAccountId: 'b', toAccountId: 'a', amount: 5 }, context).decide([row('a', 0, 1), row('b', 10, 3), []]);
    expect(writes[0]!.sql).toMatch(/^INSERT INTO transfers/);
    expect(result.body).toMatchObject({ from: { accountId: 'b', balance: 5, version: 4 }, to: { accountId: 'a', balance: 5, version: 2 } });
    expect(result.envelopes.map((e) => [e.eventType, e.aggregateId, e.aggregateVersion, e.correlationId])).toEqual([
      ['TransferDebited', 'b', 4, 't'],
      ['TransferCredited', 'a', 2, 't'],
    ]);
  });

  it('refuses a transfer in the order it always did: 404, then an existing transfer id, then the balances', () => {
    const plan = () => transfer({ transferId: 't', fromAccountId: 'a', toAccountId: 'b', amount: 500 }, context);
    expect(refusal(() => plan().decide([row('a', 0, 1), [], [{ 1: 1 }]]))).toEqual({ status: 404, error: 'account-not-found' });
    expect(refusal(() => plan().decide([row('a', 0, 1), row('b', 0, 1), [{ 1: 1 }]]))).toEqual({ status: 409, error: 'transfer-exists' });
    expect(refusal(() => plan().decide([row('a', 0, 1), row('b', 0, 1), []]))).toEqual({ status: 409, error: 'insufficient-funds' });
    expect(plan().duplicate).toMatchObject({ statusCode: 409, error: 'transfer-exists' });
    expect(refusal(() => transfer({ fromAccountId: 'a', toAccountId: 'a', amount: 1 }, context).decide([row('a', 9, 1), row('a', 9, 1), []]))).toEqual({ status: 400, error: 'self-transfer' });
  });

  it("opens an account without a lock; a duplicate id is the plan's 409", () => {
    const plan = openAccount({ accountId: 'n-1', owner: 'N', currency: 'EUR' }, context);
    expect(plan.reads).toEqual([]);
    expect(plan.decide([]).result.body).toMatchObject({ accountId: 'n-1', balance: 0, version: 1 });
    expect(plan.duplicate).toMatchObject({ statusCode: 409, error: 'account-exists' });
  });

  it('tells a duplicate primary key (MariaDB and MySQL 8 wording) from a duplicate on another unique key', () => {
    expect(isDuplicatePrimaryKey({ errno: 1062, sqlMessage: "Duplicate entry 't-1' for key 'PRIMARY'" })).toBe(true);
    expect(isDuplicatePrimaryKey({ errno: 1062, sqlMessage: "Duplicate entry 't-1' for key 'transfers.PRIMARY'" })).toBe(true);
    expect(isDuplicatePrimaryKey({ errno: 1062, sqlMessage: "Duplicate entry 'e' for key 'ledger_event'" })).toBe(false);
    expect(isDuplicatePrimaryKey({ errno: 1213, sqlMessage: 'Deadlock found' })).toBe(false);
  });
});
