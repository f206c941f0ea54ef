/**
 * The wallet's commands as plans the transaction runner (index.ts) executes in two round trips:
 *
 *   1. `locks`: the account rows under an exclusive lock (held to COMMIT), sent in the same batch as
 *      BEGIN and the idempotency key's claim;
 *   2. `decide(rows)`: from the locked rows, in memory, the writes (account rows, ledger entries, the
 *      transfer) and the events they produce, or the refusal (404, 409). The writes then go in one batch
 *      with the key's completion, the outbox rows and (usually) COMMIT.
 *
 * So the account lock is held for one round trip plus the commit, instead of six round trips. Everything
 * that does not depend on the locked rows (event ids, trace id, outbox shard and headers) is prepared
 * before the lock (`prepareEvent`); only the version, balance and the envelope's JSON are left for
 * `decide`.
 *
 * Versions: AccountOpened is version 1; every later event on an account is accounts.version + 1, read
 * under the row lock, so versions per account are gapless and ordered by commit.
 */
import { randomUUID } from 'node:crypto';
import type { EventEnvelope, WalletEventPayload } from '../../envelope/envelope.ts';
import { HttpError } from '../../http/server.ts';
import type { Query, Statement } from './query.ts';
import { maxAmount } from './validation.ts';

export interface CommandContext {
  traceId: string;
}

export interface AccountSnapshot {
  accountId: string;
  balance: number;
  version: number;
}

export interface AccountRow extends AccountSnapshot {
  owner: string;
  currency: string;
}

export interface CommandResult<B> {
  body: B;
  envelopes: EventEnvelope[];
}

export interface CommandPlan<B> {
  /** Reads (the account rows FOR UPDATE, in lock order), run in this order right after the key claim. */
  reads: Statement[];
  /** The writes and the result, from the reads' rows; throws an HttpError to refuse (nothing applied). */
  decide(rows: unknown[][]): { writes: Statement[]; result: CommandResult<B> };
  /** What a duplicate primary key among the writes means (the account or the transfer exists already). */
  duplicate?: HttpError;
}

export type AccountResponse = AccountSnapshot & { eventIds: string[] };
export type TransferResponse = { transferId: string; from: AccountSnapshot; to: AccountSnapshot; eventIds: string[] };

export interface RawAccountRow {
  id: string;
  owner: string;
  currency: string;
  balance: number | string;
  version: number | string;
}

const notFound = (accountId: string) => new HttpError(404, 'account-not-found', `account '${accountId}' does not exist`);

const selectAccount = 'SELECT id, owner, currency, balance, version FROM accounts WHERE id = ?';
const lockAccount = (accountId: string): Statement => ({ sql: `${selectAccount} FOR UPDATE`, params: [accountId] });

function accountOf(rows: unknown[] | undefined, accountId: string): AccountRow {
  const row = rows?.[0] as RawAccountRow | undefined;
  if (!row) throw notFound(accountId);
  return { accountId: row.id, owner: row.owner, currency: row.currency, balance: Number(row.balance), version: Number(row.version) };
}

/** An event whose id, time and trace are fixed before the lock; `at(version)` completes the envelope. */
function prepareEvent<P extends WalletEventPayload>(payload: P, accountId: string, context: CommandContext, correlationId: string | null = null) {
  const eventId = randomUUID();
  const occurredAt = Date.now();
  return {
    eventId,
    // The fields in newEnvelope's order, so the outbox payload's JSON reads as before.
    at: (version: number): EventEnvelope<P> => ({
      eventId,
      eventType: payload.type,
      aggregateType: 'account',
      aggregateId: accountId,
      aggregateVersion: version,
      occurredAt,
      traceId: context.traceId,
      causationId: null,
      correlationId,
      payload,
    }),
  };
}

/** The balance change of one locked account: the checks, the row update and its ledger entry. */
function applyBalance(account: AccountRow, delta: number, entry: { kind: string; reference: string | null; eventId: string }): { after: AccountSnapshot; update: Statement; ledgerRow: unknown[] } {
  const balance = account.balance + delta;
  if (balance < 0) throw new HttpError(409, 'insufficient-funds', `account '${account.accountId}' has ${account.balance}, needs ${-delta}`);
  if (balance > maxAmount) throw new HttpError(409, 'balance-limit', `account '${account.accountId}' would exceed the maximum balance ${maxAmount}`);
  const version = account.version + 1;
  return {
    after: { accountId: account.accountId, balance, version },
    update: { sql: 'UPDATE accounts SET balance = ?, version = ?, updated_at = NOW(6) WHERE id = ?', params: [balance, version, account.accountId] },
    ledgerRow: [account.accountId, delta, entry.kind, entry.reference, entry.eventId],
  };
}

/** Ledger entries of one command in one statement (a transfer has two). */
function insertLedger(rows: unknown[][]): Statement {
  return { sql: 'INSERT INTO ledger_entries (account_id, amount, kind, reference, event_id) VALUES ?', params: [rows] };
}

export function openAccount(input: { accountId?: string; owner: string; currency: string }, context: CommandContext): CommandPlan<AccountResponse> {
  const accountId = input.accountId ?? randomUUID();
  const opened = prepareEvent({ type: 'AccountOpened', accountId, owner: input.owner, currency: input.currency }, accountId, context);
  return {
    // Nothing to lock: the INSERT creates the row, and its primary key refuses a second one.
    reads: [],
    decide: () => ({
      writes: [{ sql: 'INSERT INTO accounts (id, owner, currency, balance, version) VALUES (?, ?, ?, 0, 1)', params: [accountId, input.owner, input.currency] }],
      result: { body: { accountId, balance: 0, version: 1, eventIds: [opened.eventId] }, envelopes: [opened.at(1)] },
    }),
    duplicate: new HttpError(409, 'account-exists', `account '${accountId}' already exists`),
  };
}

function balanceChange(accountId: string, delta: number, kind: 'deposit' | 'withdrawal', context: CommandContext): CommandPlan<AccountResponse> {
  const amount = Math.abs(delta);
  const event = prepareEvent(kind === 'deposit' ? { type: 'FundsDeposited', accountId, amount } : { type: 'FundsWithdrawn', accountId, amount }, accountId, context);
  return {
    reads: [lockAccount(accountId)],
    decide: ([rows]) => {
      const change = applyBalance(accountOf(rows, accountId), delta, { kind, reference: null, eventId: event.eventId });
      return {
        writes: [change.update, insertLedger([change.ledgerRow])],
        result: { body: { ...change.after, eventIds: [event.eventId] }, envelopes: [event.at(change.after.version)] },
      };
    },
  };
}

export function deposit(accountId: string, amount: number, context: CommandContext): CommandPlan<AccountResponse> {
  return balanceChange(accountId, amount, 'deposit', context);
}

export function withdraw(accountId: string, amount: number, context: CommandContext): CommandPlan<AccountResponse> {
  return balanceChange(accountId, -amount, 'withdrawal', context);
}

export function transfer(input: { transferId?: string; fromAccountId: string; toAccountId: string; amount: number }, context: CommandContext): CommandPlan<TransferResponse> {
  const { fromAccountId, toAccountId, amount } = input;
  const transferId = input.transferId ?? randomUUID();
  // Both rows locked in ascending id order (two statements, run in order): two opposite transfers
  // (A→B, B→A) take the locks in the same order, so they queue instead of deadlocking.
  const order = [fromAccountId, toAccountId].sort();
  const debited = prepareEvent({ type: 'TransferDebited', transferId, accountId: fromAccountId, counterpartyAccountId: toAccountId, amount }, fromAccountId, context, transferId);
  const credited = prepareEvent({ type: 'TransferCredited', transferId, accountId: toAccountId, counterpartyAccountId: fromAccountId, amount }, toAccountId, context, transferId);
  const exists = new HttpError(409, 'transfer-exists', `transfer '${transferId}' already exists`);
  return {
    reads: [
      ...order.map(lockAccount),
      // After the locks, so it sees a transfer committed while we waited. A transfer with this id still
      // uncommitted elsewhere is caught by the INSERT's primary key instead (`duplicate`).
      { sql: 'SELECT 1 FROM transfers WHERE id = ?', params: [transferId] },
    ],
    decide: (rows) => {
      // Refused here, after the key's claim, as it always was: a key already used answers first.
      if (fromAccountId === toAccountId) throw new HttpError(400, 'self-transfer', 'fromAccountId and toAccountId must differ');
      // The refusals in the order they always had: unknown account (404), then an existing transfer, then
      // the balances (409).
      const accounts = new Map(order.map((accountId, i) => [accountId, accountOf(rows[i], accountId)]));
      if (rows[order.length]!.length > 0) throw exists;
      const debit = applyBalance(accounts.get(fromAccountId)!, -amount, { kind: 'transfer-debit', reference: transferId, eventId: debited.eventId });
      const credit = applyBalance(accounts.get(toAccountId)!, amount, { kind: 'transfer-credit', reference: transferId, eventId: credited.eventId });
      return {
        writes: [
          // First in the batch: a duplicate transfer id stops it before anything else is written.
          { sql: 'INSERT INTO transfers (id, from_account_id, to_account_id, amount) VALUES (?, ?, ?, ?)', params: [transferId, fromAccountId, toAccountId, amount] },
          debit.update,
          credit.update,
          insertLedger([debit.ledgerRow, credit.ledgerRow]),
        ],
        result: {
          body: { transferId, from: debit.after, to: credit.after, eventIds: [debited.eventId, credited.eventId] },
          envelopes: [debited.at(debit.after.version), credited.at(credit.after.version)],
        },
      };
    },
    duplicate: exists,
  };
}

export async function readAccount(query: Query, accountId: string): Promise<AccountRow> {
  return accountOf(await query<RawAccountRow[]>(selectAccount, [accountId]), accountId);
}
