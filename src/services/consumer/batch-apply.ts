/**
 * The SQL of one batch transaction (the plan comes from batch-plan.ts), inside the caller's transaction:
 *
 *   INSERT processed_event VALUES (g, e1), (g, e2), …      the dedupe: one duplicate → 1062 → BatchConflict
 *   INSERT account_balance_view VALUES …                    accounts the batch opens (exists → BatchConflict)
 *   UPDATE account_balance_view SET balance = balance + CASE …, version = CASE …
 *    WHERE account_id IN (…) AND version = CASE …            every other account, only on top of the
 *                                                            version the plan expects (fewer rows
 *                                                            matched → BatchConflict: a gap, a stale
 *                                                            event or an unknown account)
 *   INSERT applied_event_log VALUES …                       one row per event, as the per-record path
 *   [SELECT balance, version … WHERE account_id IN (…)]     only for `versioned` cache invalidation
 *
 * Five statements whatever the batch size, against ~5 per event one by one. A BatchConflict means
 * "not the plain case": the caller rolls back and applies the records one by one, where the per-record
 * rules (processor.ts, projection.ts) tell a duplicate, a version gap and a poison event apart.
 */
import type mysql from 'mysql2/promise';
import { isDuplicateKey } from '../../db/pool.ts';
import type { EventEnvelope } from '../../envelope/envelope.ts';
import type { AccountChange } from './batch-plan.ts';
import type { ProjectedBalance, Query } from './projection.ts';

/** The batch is not the plain case; apply its records one by one. */
export class BatchConflict extends Error {
  override readonly name = 'BatchConflict';
}

export async function applyBatchChanges(
  query: Query,
  connection: mysql.PoolConnection,
  input: { groupId: string; envelopes: readonly EventEnvelope[]; changes: readonly AccountChange[]; readBalances: boolean },
): Promise<ProjectedBalance[] | undefined> {
  const { groupId, envelopes, changes } = input;
  const insertOrConflict = async (sql: string, rows: unknown[][], what: string) => {
    try {
      await query(connection, sql, [rows]);
    } catch (error) {
      if (isDuplicateKey(error)) throw new BatchConflict(`${what} already present`);
      throw error;
    }
  };
  await insertOrConflict('INSERT INTO processed_event (consumer_group, event_id) VALUES ?', envelopes.map((e) => [groupId, e.eventId]), 'an event of the batch is');

  const opened = changes.filter((change) => change.opened);
  if (opened.length) {
    await insertOrConflict(
      'INSERT INTO account_balance_view (account_id, owner, currency, balance, version, last_event_id) VALUES ?',
      opened.map((c) => [c.accountId, c.opened!.owner, c.opened!.currency, c.delta, c.version, c.lastEventId]),
      'an account the batch opens is',
    );
  }

  const updated = changes.filter((change) => !change.opened);
  if (updated.length) {
    // One statement for every account: CASE picks each account's own values (mysql2 expands the
    // arrays; every value is a bound parameter). Matched rows must equal the accounts: a row whose
    // version is not the expected one is left alone and makes the count fall short.
    const when = (value: (c: AccountChange) => unknown) => ({ sql: `CASE account_id ${updated.map(() => 'WHEN ? THEN ?').join(' ')} END`, params: updated.flatMap((c) => [c.accountId, value(c)]) });
    const delta = when((c) => c.delta);
    const version = when((c) => c.version);
    const lastEventId = when((c) => c.lastEventId);
    const expected = when((c) => c.expectedVersion);
    const result = await query(
      connection,
      `UPDATE account_balance_view
          SET balance = balance + ${delta.sql}, version = ${version.sql}, last_event_id = ${lastEventId.sql}, updated_at = CURRENT_TIMESTAMP(6)
        WHERE account_id IN (?) AND version = ${expected.sql}`,
      [...delta.params, ...version.params, ...lastEventId.params, updated.map((c) => c.accountId), ...expected.params],
    );
    if (result.affectedRows !== updated.length) throw new BatchConflict(`${updated.length - result.affectedRows} of ${updated.length} accounts are not at the version the batch follows (or have no projection row)`);
  }

  await query(connection, 'INSERT INTO applied_event_log (consumer_group, event_id, account_id) VALUES ?', [envelopes.map((e) => [groupId, e.eventId, e.aggregateId])]);
  if (!input.readBalances) return undefined;
  const rows = (await query(connection, 'SELECT account_id, balance, version FROM account_balance_view WHERE account_id IN (?)', [changes.map((c) => c.accountId)])) as unknown as Array<{
    account_id: string;
    balance: number | string;
    version: number | string;
  }>;
  return rows.map((row) => ({ accountId: row.account_id, balance: Number(row.balance), version: Number(row.version) }));
}
