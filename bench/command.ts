/**
 * 3. command-service vs a bare mysql2 loop doing the same transaction.
 *
 * Service  `startCommandService` in outbox mode (no relay: its cost is section 1's), driven over HTTP by
 *          an undici Pool with `concurrency` connections in a closed loop: deposits round-robin over the
 *          accounts (opened first, not timed), each with its own Idempotency-Key.
 * Bare     the same transaction with no HTTP, no framework and no validation, from `concurrency`
 *          workers on a mysql2 pool of the same size as the service's (both given `dbConnections`):
 *            BEGIN
 *            INSERT idempotency_keys (placeholder)          (idempotency.ts claimKey)
 *            SELECT … FROM accounts WHERE id = ? FOR UPDATE   (ledger.ts lockAccount)
 *            UPDATE accounts SET balance, version, updated_at (ledger.ts applyBalance)
 *            INSERT ledger_entries
 *            UPDATE idempotency_keys SET status, response     (idempotency.ts completeKey)
 *            INSERT outbox_event (outboxRow)                  (outbox.ts insertOutboxEvents)
 *            COMMIT
 *          plus the same per-command CPU work: the request hash, a new envelope, the JSON bodies. It
 *          mirrors src/services/command as of this bench; a change there that removes a statement makes
 *          the ratio rise above what HTTP overhead alone explains — that is the point of the ratio.
 * Each side: a fresh database, a warm-up (not counted), then `seconds` measured. Deadlocks and lock
 * wait timeouts are retried up to 3 attempts on both sides, as the service does.
 */
import { randomUUID } from 'node:crypto';
import type mysql from 'mysql2/promise';
import { createPool, isRetryableDbError, newEnvelope, outboxRow, requestHash, startService } from '../src/contract.ts';
import type { LabEnvironment } from '../lab/infra/environment.ts';
import { closedLoop } from './drivers.ts';
import { inTurn, progress, repetitions } from './progress.ts';
import { withScope } from './scope.ts';
import type { BenchSettings } from './settings.ts';
import { ratioSample, sample, type Heading, type Row, type Sample } from './table.ts';
import { WalletHttp } from './wallet-http.ts';
import { benchAccounts } from './workload.ts';

/** MySQL connections of the service's pool and of the bare loop's (the service's default at the time of writing). */
export const dbConnections = 16;
const amountOf = (i: number) => 100 + (i % 900);

async function commandService(env: LabEnvironment, settings: BenchSettings, accounts: string[]): Promise<Sample> {
  return withScope(env, 'bench_command', async (scope) => {
    const service = await startService('command', { ...scope.config, mode: 'outbox', dbConnections });
    const http = new WalletHttp(service.url, settings.concurrency);
    try {
      await http.openAccounts(accounts, scope.id);
      const deposit = (i: number) => http.deposit(accounts[i % accounts.length]!, amountOf(i), `${scope.id}-deposit-${i}`);
      const warm = await closedLoop(settings.concurrency, settings.warmupSeconds, deposit);
      const run = await closedLoop(settings.concurrency, settings.seconds, deposit, warm.next);
      return sample(run.completed / run.seconds);
    } finally {
      await http.close();
      await service.stop();
    }
  });
}

/** The command-service's deposit transaction, statement for statement, on a bare pool. */
async function bareDeposit(pool: mysql.Pool, accountId: string, amount: number, key: string): Promise<void> {
  const path = `/accounts/${accountId}/deposits`;
  const hash = requestHash('POST', path, { amount });
  for (let attempt = 1; ; attempt += 1) {
    const connection = await pool.getConnection();
    try {
      await connection.beginTransaction();
      await connection.query("INSERT INTO idempotency_keys (idempotency_key, request_hash, status_code, response_body) VALUES (?, ?, 0, '')", [key, hash]);
      const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT id, owner, currency, balance, version FROM accounts WHERE id = ? FOR UPDATE', [accountId]);
      const account = rows[0]!;
      const balance = Number(account.balance) + amount;
      const version = Number(account.version) + 1;
      const envelope = newEnvelope({ type: 'FundsDeposited', accountId, amount }, { type: 'account', id: accountId, version }, { traceId: randomUUID(), correlationId: null });
      await connection.query('UPDATE accounts SET balance = ?, version = ?, updated_at = NOW(6) WHERE id = ?', [balance, version, accountId]);
      await connection.query('INSERT INTO ledger_entries (account_id, amount, kind, reference, event_id) VALUES (?, ?, ?, ?, ?)', [accountId, amount, 'deposit', null, envelope.eventId]);
      const body = { accountId, balance, version, eventIds: [envelope.eventId] };
      await connection.query('UPDATE idempotency_keys SET status_code = ?, response_body = ? WHERE idempotency_key = ?', [201, JSON.stringify(body), key]);
      await connection.query(
        'INSERT INTO outbox_event (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, shard, payload, headers) VALUES ?',
        [[outboxRow(envelope)]],
      );
      await connection.commit();
      return;
    } catch (error) {
      await connection.rollback().catch(() => undefined);
      if (attempt < 3 && isRetryableDbError(error)) continue;
      throw error;
    } finally {
      connection.release();
    }
  }
}

async function bareSqlLoop(env: LabEnvironment, settings: BenchSettings, accounts: string[]): Promise<Sample> {
  return withScope(env, 'bench_sql', async (scope) => {
    const pool = createPool(scope.config.mysql, dbConnections);
    try {
      await pool.query('INSERT INTO accounts (id, owner, currency, balance, version) VALUES ?', [accounts.map((id) => [id, 'bench', 'KRW', 0, 1])]);
      const deposit = (i: number) => bareDeposit(pool, accounts[i % accounts.length]!, amountOf(i), `${scope.id}-deposit-${i}`);
      const warm = await closedLoop(settings.concurrency, settings.warmupSeconds, deposit);
      const run = await closedLoop(settings.concurrency, settings.seconds, deposit, warm.next);
      return sample(run.completed / run.seconds);
    } finally {
      await pool.end().catch(() => undefined);
    }
  });
}

export async function commandServiceVersusBareSql(env: LabEnvironment, settings: BenchSettings): Promise<Array<Row | Heading>> {
  const accounts = benchAccounts(settings.accounts);
  const results = await repetitions(settings.repeats, 'command-service vs bare SQL', async (_, serviceFirst) => {
    const [service, bare] = await inTurn(serviceFirst, () => commandService(env, settings, accounts), () => bareSqlLoop(env, settings, accounts));
    progress(`  command-service ${Math.round(service.value)}/s, bare SQL ${Math.round(bare.value)}/s`);
    return { service, bare, ratio: ratioSample(service, bare) };
  });
  return [
    { heading: `3. command-service vs bare SQL: deposits over ${settings.accounts} accounts, ${settings.concurrency} in flight, ${dbConnections} DB connections, ${settings.warmupSeconds} s warm-up + ${settings.seconds} s` },
    { name: '   command-service over HTTP (outbox mode), commands/s', format: 'rate', samples: results.map((r) => r.service), target: { op: '>=', value: 1000 } },
    { name: '   bare mysql2 loop, same transaction, commands/s', format: 'rate', samples: results.map((r) => r.bare) },
    { name: '   ratio service / bare SQL', format: 'ratio', samples: results.map((r) => r.ratio), target: { op: '>=', value: 0.5 } },
  ];
}
