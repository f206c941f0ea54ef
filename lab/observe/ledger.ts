/** Gathers what the composed ledger checker (lab/checkers/ledger.ts) judges, from independent observers. */
import type { RowDataPacket } from 'mysql2';
import type { Redis } from 'ioredis';
import type { LedgerObservations } from '../checkers/ledger.ts';
import { attemptsFromHistory } from '../clients/wallet-client.ts';
import type { History } from '../history/history.ts';
import type { LabEnvironment } from '../infra/environment.ts';
import type { IsolatedDatabase } from '../infra/isolation.ts';
import { appliedInOrder, applications, domainBalances, projectedBalances, sums } from './database.ts';
import { readTopic } from './topic.ts';
import { balanceKey, getBalance } from '../../src/contract.ts';

export async function observeLedger(
  env: LabEnvironment,
  o: { database: IsolatedDatabase; history: History; eventsTopic: string; gatewayUrl: string; redis: Redis; keyPrefix: string; accounts: string[]; reads: LedgerObservations['reads'] },
): Promise<LedgerObservations & { notificationsSuppressed: number; lagMs: number[] }> {
  const pool = o.database.pool;
  const [outbox] = await pool.query<RowDataPacket[]>('SELECT event_id, aggregate_id, aggregate_version, created_at FROM outbox_event');
  const committed = outbox.map((r) => ({ eventId: r.event_id as string, key: r.aggregate_id as string, version: Number(r.aggregate_version), at: new Date(r.created_at as Date).getTime() }));
  const notifications = (await (await fetch(`${o.gatewayUrl}/notifications`)).json()) as { deliveriesByEventId: Record<string, number>; duplicatesSuppressed: number };
  // Read back by an independent read_committed consumer.
  const onTopic = (await readTopic(env, o.eventsTopic, { expected: committed.length, quietMs: 500, timeoutMs: 60_000 })).filter((r) => r.eventId).map((r) => r.eventId!);
  const money = await sums(pool);
  const projected = await projectedBalances(pool);
  const cached = new Map(await Promise.all(o.accounts.map(async (a) => [a, await getBalance(o.redis, balanceKey(o.keyPrefix, a))] as const)));
  const [lagRows] = await pool.query<RowDataPacket[]>('SELECT TIMESTAMPDIFF(MICROSECOND, o.created_at, a.applied_at) / 1000 AS ms FROM outbox_event o JOIN applied_event_log a ON a.event_id = o.event_id');
  return {
    committed, onTopic, applied: await applications(pool), appliedInOrder: await appliedInOrder(pool), acknowledged: attemptsFromHistory(o.history),
    notifications: new Map(Object.entries(notifications.deliveriesByEventId)), money, domain: await domainBalances(pool), projected,
    cached: new Map([...cached].map(([a, entry]) => [a, entry && { balance: entry.balance, version: entry.version }])), reads: o.reads,
    notificationsSuppressed: notifications.duplicatesSuppressed, lagMs: lagRows.map((r) => Number(r.ms)),
  };
}
