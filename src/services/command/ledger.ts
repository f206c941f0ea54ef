/**
 * The wallet's commands, each run inside the caller's transaction: lock, check, change the account
 * rows, write ledger entries (event_id = the event's id) and return the events the change produced.
 * Where the events go (outbox rows in this transaction, or Kafka directly) is the caller's concern.
 *
 * Versions: AccountOpened is version 1; every later event on an account is accounts.version + 1, taken
 * under the row lock, so versions per account are gapless and ordered by commit.
 */
import { randomUUID } from 'node:crypto';
import { isDuplicateKey } from '../../db/pool.ts';
import { newEnvelope, type EventEnvelope, type WalletEventPayload } from '../../envelope/envelope.ts';
import { HttpError } from '../../http/server.ts';
import type { Query } from './query.ts';
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

export type AccountResponse = AccountSnapshot & { eventIds: string[] };
export type TransferResponse = { transferId: string; from: AccountSnapshot; to: AccountSnapshot; eventIds: string[] };

const notFound = (accountId: string) => new HttpError(404, 'account-not-found', `account '${accountId}' does not exist`);

function event<P extends WalletEventPayload>(payload: P, accountId: string, version: number, context: CommandContext, correlationId: string | null = null): EventEnvelope<P> {
  return newEnvelope(payload, { type: 'account', id: accountId, version }, { traceId: context.traceId, correlationId });
}

/** The account row under an exclusive lock (held to COMMIT), or 404. */
async function lockAccount(query: Query, accountId: string): Promise<AccountRow> {
  const rows = await query<Array<{ id: string; owner: string; currency: string; balance: number | string; version: number | string }>>(
    'SELECT id, owner, currency, balance, version FROM accounts WHERE id = ? FOR UPDATE',
    [accountId],
  );
  const row = rows[0];
  if (!row) throw notFound(accountId);
  return { accountId: row.id, owner: row.owner, currency: row.currency, balance: Number(row.balance), version: Number(row.version) };
}

async function applyBalance(query: Query, account: AccountRow, delta: number, entry: { kind: string; reference: string | null; eventId: string }): Promise<AccountSnapshot> {
  const balance = account.balance + delta;
  if (balance < 0) throw new HttpError(409, 'insufficient-funds', `account '${account.accountId}' has ${account.balance}, needs ${-delta}`);
  if (balance > maxAmount) throw new HttpError(409, 'balance-limit', `account '${account.accountId}' would exceed the maximum balance ${maxAmount}`);
  const version = account.version + 1;
  await query('UPDATE accounts SET balance = ?, version = ?, updated_at = NOW(6) WHERE id = ?', [balance, version, account.accountId]);
  await query('INSERT INTO ledger_entries (account_id, amount, kind, reference, event_id) VALUES (?, ?, ?, ?, ?)', [account.accountId, delta, entry.kind, entry.reference, entry.eventId]);
  return { accountId: account.accountId, balance, version };
}

export async function openAccount(query: Query, input: { accountId?: string; owner: string; currency: string }, context: CommandContext): Promise<CommandResult<AccountResponse>> {
  const accountId = input.accountId ?? randomUUID();
  try {
    await query('INSERT INTO accounts (id, owner, currency, balance, version) VALUES (?, ?, ?, 0, 1)', [accountId, input.owner, input.currency]);
  } catch (error) {
    if (isDuplicateKey(error)) throw new HttpError(409, 'account-exists', `account '${accountId}' already exists`);
    throw error;
  }
  const opened = event({ type: 'AccountOpened', accountId, owner: input.owner, currency: input.currency }, accountId, 1, context);
  return { body: { accountId, balance: 0, version: 1, eventIds: [opened.eventId] }, envelopes: [opened] };
}

export async function deposit(query: Query, accountId: string, amount: number, context: CommandContext): Promise<CommandResult<AccountResponse>> {
  const account = await lockAccount(query, accountId);
  const deposited = event({ type: 'FundsDeposited', accountId, amount }, accountId, account.version + 1, context);
  const after = await applyBalance(query, account, amount, { kind: 'deposit', reference: null, eventId: deposited.eventId });
  return { body: { ...after, eventIds: [deposited.eventId] }, envelopes: [deposited] };
}

export async function withdraw(query: Query, accountId: string, amount: number, context: CommandContext): Promise<CommandResult<AccountResponse>> {
  const account = await lockAccount(query, accountId);
  const withdrawn = event({ type: 'FundsWithdrawn', accountId, amount }, accountId, account.version + 1, context);
  const after = await applyBalance(query, account, -amount, { kind: 'withdrawal', reference: null, eventId: withdrawn.eventId });
  return { body: { ...after, eventIds: [withdrawn.eventId] }, envelopes: [withdrawn] };
}

export async function transfer(
  query: Query,
  input: { transferId?: string; fromAccountId: string; toAccountId: string; amount: number },
  context: CommandContext,
): Promise<CommandResult<TransferResponse>> {
  const { fromAccountId, toAccountId, amount } = input;
  if (fromAccountId === toAccountId) throw new HttpError(400, 'self-transfer', 'fromAccountId and toAccountId must differ');
  const transferId = input.transferId ?? randomUUID();
  // Both rows locked in ascending id order: two opposite transfers (A→B, B→A) take the locks in the same
  // order, so they queue instead of deadlocking.
  const locked = new Map<string, AccountRow>();
  for (const accountId of [fromAccountId, toAccountId].sort()) locked.set(accountId, await lockAccount(query, accountId));
  try {
    await query('INSERT INTO transfers (id, from_account_id, to_account_id, amount) VALUES (?, ?, ?, ?)', [transferId, fromAccountId, toAccountId, amount]);
  } catch (error) {
    if (isDuplicateKey(error)) throw new HttpError(409, 'transfer-exists', `transfer '${transferId}' already exists`);
    throw error;
  }
  const from = locked.get(fromAccountId)!;
  const to = locked.get(toAccountId)!;
  const debited = event({ type: 'TransferDebited', transferId, accountId: fromAccountId, counterpartyAccountId: toAccountId, amount }, fromAccountId, from.version + 1, context, transferId);
  const credited = event({ type: 'TransferCredited', transferId, accountId: toAccountId, counterpartyAccountId: fromAccountId, amount }, toAccountId, to.version + 1, context, transferId);
  const fromAfter = await applyBalance(query, from, -amount, { kind: 'transfer-debit', reference: transferId, eventId: debited.eventId });
  const toAfter = await applyBalance(query, to, amount, { kind: 'transfer-credit', reference: transferId, eventId: credited.eventId });
  return { body: { transferId, from: fromAfter, to: toAfter, eventIds: [debited.eventId, credited.eventId] }, envelopes: [debited, credited] };
}

export async function readAccount(query: Query, accountId: string): Promise<AccountRow> {
  const rows = await query<Array<{ id: string; owner: string; currency: string; balance: number | string; version: number | string }>>(
    'SELECT id, owner, currency, balance, version FROM accounts WHERE id = ?',
    [accountId],
  );
  const row = rows[0];
  if (!row) throw notFound(accountId);
  return { accountId: row.id, owner: row.owner, currency: row.currency, balance: Number(row.balance), version: Number(row.version) };
}
