/** Direct reads of the wallet database: the truth the checkers compare against. */
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2';
import type { BalanceState } from '../checkers/state.ts';
import { waitFor } from '../infra/ports.ts';

async function rows(pool: mysql.Pool, sql: string, params: unknown[] = []): Promise<RowDataPacket[]> {
  const [result] = await pool.query<RowDataPacket[]>(sql, params);
  return result;
}

export async function domainBalances(pool: mysql.Pool): Promise<Map<string, BalanceState>> {
  return new Map((await rows(pool, 'SELECT id, balance, version FROM accounts')).map((r) => [r.id as string, { balance: Number(r.balance), version: Number(r.version) }]));
}

export async function projectedBalances(pool: mysql.Pool): Promise<Map<string, BalanceState>> {
  return new Map((await rows(pool, 'SELECT account_id, balance, version FROM account_balance_view')).map((r) => [r.account_id as string, { balance: Number(r.balance), version: Number(r.version) }]));
}

/** Event ids the domain committed (the ledger has one entry per balance-changing event). */
export async function committedEventIds(pool: mysql.Pool): Promise<string[]> {
  return (await rows(pool, 'SELECT event_id FROM ledger_entries')).map((r) => r.event_id as string);
}

export async function outboxEventIds(pool: mysql.Pool): Promise<string[]> {
  return (await rows(pool, 'SELECT event_id FROM outbox_event')).map((r) => r.event_id as string);
}

/** How many times each event was applied to the projection (all consumer groups). */
export async function applications(pool: mysql.Pool): Promise<Map<string, number>> {
  return new Map((await rows(pool, 'SELECT event_id, COUNT(*) AS n FROM applied_event_log GROUP BY event_id')).map((r) => [r.event_id as string, Number(r.n)]));
}

/** Applied events in apply order, with the account and the version they carried (for order checks). */
export async function appliedInOrder(pool: mysql.Pool): Promise<Array<{ key: string; version: number; eventId: string }>> {
  return (
    await rows(
      pool,
      `SELECT a.account_id, a.event_id, o.aggregate_version FROM applied_event_log a JOIN outbox_event o ON o.event_id = a.event_id ORDER BY a.id`,
    )
  ).map((r) => ({ key: r.account_id as string, version: Number(r.aggregate_version), eventId: r.event_id as string }));
}

export async function sums(pool: mysql.Pool): Promise<{ balances: number; ledger: number; projected: number }> {
  const [r] = await rows(
    pool,
    'SELECT (SELECT COALESCE(SUM(balance), 0) FROM accounts) AS balances, (SELECT COALESCE(SUM(amount), 0) FROM ledger_entries) AS ledger, (SELECT COALESCE(SUM(balance), 0) FROM account_balance_view) AS projected',
  );
  return { balances: Number(r!.balances), ledger: Number(r!.ledger), projected: Number(r!.projected) };
}

export async function count(pool: mysql.Pool, table: 'outbox_event' | 'processed_event' | 'applied_event_log' | 'ledger_entries' | 'replay_audit', where = '1=1', params: unknown[] = []): Promise<number> {
  const [r] = await rows(pool, `SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`, params);
  return Number(r!.n);
}

/** When each of `eventIds` was applied (DB clock, epoch ms). */
export async function appliedAt(pool: mysql.Pool, eventIds: string[]): Promise<Map<string, number>> {
  if (eventIds.length === 0) return new Map();
  return new Map((await rows(pool, 'SELECT event_id, UNIX_TIMESTAMP(applied_at) * 1000 AS t FROM applied_event_log WHERE event_id IN (?)', [eventIds])).map((r) => [r.event_id as string, Number(r.t)]));
}

/** Applications in apply order with the account the consumer applied them to (events produced straight to the topic have no outbox row). */
export async function applicationLog(pool: mysql.Pool): Promise<Array<{ eventId: string; key: string }>> {
  return (await rows(pool, 'SELECT event_id, account_id FROM applied_event_log ORDER BY id')).map((r) => ({ eventId: r.event_id as string, key: r.account_id as string }));
}

/** Waits until every one of `eventIds` is applied (`what` names them in a timeout). */
export async function waitApplied(pool: mysql.Pool, eventIds: string[], what: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(`${what} applied (${eventIds.length} events)`, async () => {
    const applied = await applications(pool);
    return eventIds.every((eventId) => applied.has(eventId));
  }, { timeoutMs, intervalMs: 100 });
}

/** The replay-worker's audit rows of one replay, in the order written. */
export async function replayAudit(pool: mysql.Pool, replayId: string): Promise<Array<{ eventId: string; result: string; operator: string; reason: string; dryRun: boolean }>> {
  return (await rows(pool, 'SELECT operator, reason, event_id, dry_run, result FROM replay_audit WHERE replay_id = ? ORDER BY id', [replayId])).map((r) => ({
    eventId: r.event_id as string, result: r.result as string, operator: r.operator as string, reason: r.reason as string, dryRun: Number(r.dry_run) === 1,
  }));
}
