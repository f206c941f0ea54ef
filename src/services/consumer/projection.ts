/**
 * The read model (account_balance_view) as a function of the events, per the pipeline contract:
 * AccountOpened creates the row at balance 0; FundsDeposited/TransferCredited add; FundsWithdrawn/
 * TransferDebited subtract; version = aggregateVersion, last_event_id = eventId. Every application
 * also leaves an applied_event_log row (no unique key there, on purpose: double-applies stay visible).
 */
import type mysql from 'mysql2/promise';
import type { EventEnvelope } from '../../envelope/envelope.ts';
import { PoisonEventError } from './errors.ts';

export type Query = (connection: mysql.PoolConnection, sql: string, params: unknown[]) => Promise<mysql.ResultSetHeader & mysql.RowDataPacket[]>;

/** The signed balance change of an event (0 for AccountOpened). */
export function balanceDelta(envelope: EventEnvelope): number {
  const payload = envelope.payload;
  switch (payload.type) {
    case 'AccountOpened':
      return 0;
    case 'FundsDeposited':
    case 'TransferCredited':
      return payload.amount;
    case 'FundsWithdrawn':
    case 'TransferDebited':
      return -payload.amount;
  }
}

/** The event's amount as the notification reports it (0 when the event has none). */
export function eventAmount(envelope: EventEnvelope): number {
  return 'amount' in envelope.payload ? envelope.payload.amount : 0;
}

/**
 * Business validation that needs no database: poison if it fails, so it is checked before any work.
 * (The account's existence is checked by the UPDATE itself, inside the transaction.)
 */
export function validateEvent(envelope: EventEnvelope): void {
  const payload = envelope.payload;
  if (payload.type !== 'AccountOpened' && !(Number.isSafeInteger(payload.amount) && payload.amount > 0)) {
    throw new PoisonEventError('invalid-amount', `event ${envelope.eventId} (${payload.type}) has amount ${payload.amount}; amounts must be positive integers`);
  }
  if (payload.accountId !== envelope.aggregateId) {
    throw new PoisonEventError('invalid-envelope', `event ${envelope.eventId}: payload account ${payload.accountId} is not the aggregate ${envelope.aggregateId}`);
  }
}

/**
 * The projection has applied an account up to version `applied`, and this event is `version` > applied + 1:
 * the events in between have not been applied (yet). Applying over the gap would silently diverge the
 * projection from the domain by the missing events (issue 7: a relay that lost v111 let v112 apply).
 * Transient on purpose: the missing event may be on its way (a retry topic, a lagging partition), so the
 * record is retried with the usual bounded backoff (holding the account: its later events hit the same
 * gap); when the attempts run out it goes to the DLQ as `VersionGapError` — the alarm (dlq_total
 * {error_class="VersionGapError"}, version_gaps_total, and a log line naming the account and versions).
 */
export class VersionGapError extends Error {
  override readonly name = 'VersionGapError';
  constructor(
    readonly accountId: string,
    readonly applied: number,
    readonly version: number,
    readonly eventId: string,
  ) {
    super(`event ${eventId} is version ${version} of account ${accountId}, but the projection has applied only up to version ${applied}: versions ${applied + 1}..${version - 1} are missing`);
  }
}

export interface ProjectedBalance {
  accountId: string;
  balance: number;
  version: number;
}

/**
 * Applies one event inside the caller's transaction. `readBalance`: return the account's new balance
 * and version (one more SELECT, needed only by `versioned` cache invalidation).
 * `gapCheck` (the idempotent consumer): the event must be the next version of its account
 * (VersionGapError otherwise); an event at or below the applied version (a replayed or stale event with
 * a new id) is applied as before, with a warning from the caller's log. Without it (naive mode) every
 * event is applied blindly, which is what the anti-pattern arms demonstrate.
 */
export async function applyToProjection(
  query: Query,
  connection: mysql.PoolConnection,
  envelope: EventEnvelope,
  groupId: string,
  options: { gapCheck?: boolean; readBalance?: boolean } = {},
): Promise<ProjectedBalance | undefined> {
  const gapCheck = options.gapCheck ?? false;
  const payload = envelope.payload;
  const accountId = envelope.aggregateId;
  if (payload.type === 'AccountOpened') {
    // An upsert that leaves the balance alone: a second AccountOpened for the account (a redelivery in
    // naive mode) neither fails the record nor resets money; it only moves version/last_event_id, which
    // is exactly the trace a checker looks for.
    await query(
      connection,
      `INSERT INTO account_balance_view (account_id, owner, currency, balance, version, last_event_id)
       VALUES (?, ?, ?, 0, ?, ?)
       ON DUPLICATE KEY UPDATE owner = VALUES(owner), currency = VALUES(currency), version = VALUES(version),
         last_event_id = VALUES(last_event_id), updated_at = CURRENT_TIMESTAMP(6)`,
      [accountId, payload.owner, payload.currency, envelope.aggregateVersion, envelope.eventId],
    );
  } else {
    // With the gap check, the happy path is still one statement: the UPDATE applies only on top of the
    // previous version; when it matches nothing, one SELECT tells a missing account from a gap.
    let result = await query(
      connection,
      `UPDATE account_balance_view SET balance = balance + ?, version = ?, last_event_id = ?, updated_at = CURRENT_TIMESTAMP(6)
       WHERE account_id = ?${gapCheck ? ' AND version = ?' : ''}`,
      [balanceDelta(envelope), envelope.aggregateVersion, envelope.eventId, accountId, ...(gapCheck ? [envelope.aggregateVersion - 1] : [])],
    );
    if (gapCheck && result.affectedRows === 0) {
      const [current] = (await query(connection, 'SELECT version FROM account_balance_view WHERE account_id = ? FOR UPDATE', [accountId])) as unknown as Array<{ version: number | string }>;
      if (current && Number(current.version) < envelope.aggregateVersion - 1) throw new VersionGapError(accountId, Number(current.version), envelope.aggregateVersion, envelope.eventId);
      if (current) {
        // At or below the applied version: not a gap. Applied as without the check (today's contract).
        result = await query(
          connection,
          `UPDATE account_balance_view SET balance = balance + ?, version = ?, last_event_id = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE account_id = ?`,
          [balanceDelta(envelope), envelope.aggregateVersion, envelope.eventId, accountId],
        );
      }
    }
    if (result.affectedRows === 0) {
      throw new PoisonEventError('unknown-account', `event ${envelope.eventId} (${payload.type}) is for account ${accountId}, which has no projection row`);
    }
  }
  await query(connection, 'INSERT INTO applied_event_log (consumer_group, event_id, account_id) VALUES (?, ?, ?)', [groupId, envelope.eventId, accountId]);
  if (!options.readBalance) return undefined;
  const rows = await query(connection, 'SELECT balance, version FROM account_balance_view WHERE account_id = ?', [accountId]);
  const row = rows[0] as { balance: number | string; version: number | string };
  return { accountId, balance: Number(row.balance), version: Number(row.version) };
}
