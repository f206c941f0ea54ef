/**
 * command-service throughput against a bare SQL loop doing the same transaction (issue 8), on the
 * running `lab up` cluster:
 *
 *   npx tsx tools/command-throughput.ts [--workload deposit|transfer] [--seconds 10] [--concurrency 32]
 *       [--accounts 200] [--rounds 2] [--baseline <checkout>] [--variants baseline,service,bare,bare-serial]
 *
 * Variants, measured one after another and repeated `rounds` times interleaved (the machine is shared:
 * interleaving spreads its load over all of them), each on a fresh database with `accounts` open accounts:
 *   service      this checkout's command-service, in this process, driven over HTTP (undici) with
 *                `concurrency` requests in flight
 *   service-process  the same as its own process, as suites start it (startServiceProcess): the load
 *                generator no longer shares its event loop (its CPU is not counted under "this process")
 *   baseline     the same from another checkout (`--baseline <dir>`, e.g. a `git worktree` of main), so
 *                before and after run side by side in one run
 *   bare         mysql2 alone, `concurrency` loops running the service's transaction with its statement
 *                shape (two batched round trips, see src/services/command/index.ts): the ceiling the
 *                database and the proxy leave for this transaction
 *   bare-serial  the same rows with one statement per round trip, as the service used to send them
 * Every variant writes the same rows: idempotency key, account update, ledger entries, outbox rows.
 * Prints commands/s per variant, the service/bare ratio, CPU of this process and of mysqld and
 * Toxiproxy (every MySQL round trip crosses the proxy), and os.loadavg().
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { Pool as HttpPool } from 'undici';
import { connectEnvironment } from '../lab/infra/connect.ts';
import { createMigratedDatabase, commonConfig, startServiceProcess } from '../lab/infra/services.ts';
import { isolationId } from '../lab/infra/isolation.ts';
import { readDescriptor } from '../lab/infra/local/cluster.ts';
import { runPaths } from '../lab/infra/paths.ts';
import { newEnvelope, type EventEnvelope } from '../src/envelope/envelope.ts';
import { outboxRow } from '../src/services/command/outbox.ts';
import type { RunningService } from '../src/services/service.ts';

const { values } = parseArgs({
  options: {
    workload: { type: 'string', default: 'deposit' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '32' },
    accounts: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '16' },
    baseline: { type: 'string' },
    variants: { type: 'string' },
  },
});
const workload = values.workload as 'deposit' | 'transfer';
if (workload !== 'deposit' && workload !== 'transfer') throw new Error(`--workload deposit|transfer, got ${workload}`);
const seconds = Number(values.seconds);
const warmupSeconds = Number(values.warmup);
const concurrency = Number(values.concurrency);
const accountCount = Number(values.accounts);
const rounds = Number(values.rounds);
const dbConnections = Number(values.connections);
const variants = (values.variants ?? (values.baseline ? 'baseline,service,bare' : 'service,bare')).split(',');

const descriptor = readDescriptor();
if (!descriptor) throw new Error('no cluster: run `npx lab up` first');
const env = connectEnvironment(descriptor);
const accounts = Array.from({ length: accountCount }, (_, i) => `acct-${String(i).padStart(4, '0')}`);
const openingBalance = 1_000_000_000;

interface Driver {
  /** One command; resolves true when it was applied. */
  command(worker: number): Promise<boolean>;
  close(): Promise<void>;
  /** The service's own process, when it has one. */
  pid?: number;
}

const pick = () => accounts[Math.floor(Math.random() * accounts.length)]!;
const pickTwo = (): [string, string] => {
  const from = pick();
  let to = pick();
  while (to === from) to = pick();
  return [from, to];
};

/** The command-service from `modulePath`, in this process (or as its own process), over HTTP. */
async function serviceDriver(modulePath: string | 'process', database: string): Promise<Driver> {
  const config = { ...commonConfig(env, { database, topicPrefix: `${database}.` }), mode: 'outbox' as const, dbConnections };
  const service: { url: string; stop(): Promise<void>; pid?: number } =
    modulePath === 'process'
      ? await startServiceProcess('command', config)
      : await ((await import(modulePath)) as { startCommandService: (config: object) => Promise<RunningService> }).startCommandService(config);
  const http = new HttpPool(service.url, { connections: concurrency });
  return {
    ...(service.pid ? { pid: service.pid } : {}),
    async command() {
      const [path, body] =
        workload === 'deposit'
          ? [`/accounts/${pick()}/deposits`, { amount: 100 }]
          : (() => {
              const [fromAccountId, toAccountId] = pickTwo();
              return ['/transfers', { fromAccountId, toAccountId, amount: 1 }] as const;
            })();
      const response = await http.request({ method: 'POST', path, headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() }, body: JSON.stringify(body) });
      await response.body.dump();
      return response.statusCode === 201;
    },
    async close() {
      await http.close();
      await service.stop();
    },
  };
}

/**
 * mysql2 alone: the transaction the service runs, without HTTP, validation, envelopes built per
 * request … `batched` = the service's round trips (two: begin + key claim + locks, then the writes with
 * COMMIT); otherwise one statement per round trip, as the service used to.
 */
async function bareDriver(database: string, batched: boolean): Promise<Driver> {
  const { host, port, user, password } = descriptor!.mysql;
  const pool = mysql.createPool({ host, port, user, password, database, connectionLimit: dbConnections, multipleStatements: batched, supportBigNumbers: true });
  const keyInsert = "INSERT INTO idempotency_keys (idempotency_key, request_hash, status_code, response_body) VALUES (?, ?, 0, '')";
  const lock = 'SELECT id, balance, version FROM accounts WHERE id = ? FOR UPDATE';
  const update = 'UPDATE accounts SET balance = ?, version = ?, updated_at = NOW(6) WHERE id = ?';
  const ledger = 'INSERT INTO ledger_entries (account_id, amount, kind, reference, event_id) VALUES ?';
  const keyComplete = 'UPDATE idempotency_keys SET status_code = 201, response_body = ? WHERE idempotency_key = ?';
  const outbox = 'INSERT INTO outbox_event (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, shard, payload, headers) VALUES ?';
  const hash = 'f'.repeat(64);
  return {
    async command() {
      const key = randomUUID();
      const ids = workload === 'deposit' ? [pick()] : pickTwo();
      const transferId = randomUUID();
      const locked = [...ids].sort();
      const connection = await pool.getConnection();
      try {
        const rowsOf = (results: unknown) => (results as Array<{ id: string; balance: number; version: number }>)[0]!;
        let before: Map<string, { balance: number; version: number }>;
        const transferCheck = workload === 'transfer' ? ['SELECT 1 FROM transfers WHERE id = ?'] : [];
        if (batched) {
          const [results] = await connection.query(['START TRANSACTION', keyInsert, ...locked.map(() => lock), ...transferCheck].join(';'), [key, hash, ...locked, ...(transferCheck.length ? [transferId] : [])]);
          before = new Map(locked.map((id, i) => [id, rowsOf((results as unknown[])[2 + i])]));
        } else {
          await connection.query('START TRANSACTION');
          await connection.query(keyInsert, [key, hash]);
          before = new Map();
          for (const id of locked) before.set(id, rowsOf((await connection.query(lock, [id]))[0]));
          if (transferCheck.length) await connection.query(transferCheck[0]!, [transferId]);
        }
        const deltas = workload === 'deposit' ? [100] : [-1, 1];
        const after = ids.map((id, i) => ({ id, balance: Number(before.get(id)!.balance) + deltas[i]!, version: Number(before.get(id)!.version) + 1 }));
        const envelopes: EventEnvelope[] = after.map(({ id, version }, i) =>
          workload === 'deposit'
            ? newEnvelope({ type: 'FundsDeposited', accountId: id, amount: 100 }, { id, version })
            : newEnvelope(i === 0 ? { type: 'TransferDebited', transferId, accountId: id, counterpartyAccountId: ids[1]!, amount: 1 } : { type: 'TransferCredited', transferId, accountId: id, counterpartyAccountId: ids[0]!, amount: 1 }, { id, version }, { correlationId: transferId }),
        );
        const ledgerRows = envelopes.map((e, i) => [ids[i], deltas[i], workload === 'deposit' ? 'deposit' : i === 0 ? 'transfer-debit' : 'transfer-credit', workload === 'deposit' ? null : transferId, e.eventId]);
        const response = JSON.stringify({ after, eventIds: envelopes.map((e) => e.eventId) });
        const writes: Array<[string, unknown[]]> = [
          ...(workload === 'transfer' ? [['INSERT INTO transfers (id, from_account_id, to_account_id, amount) VALUES (?, ?, ?, ?)', [transferId, ids[0], ids[1], 1]] as [string, unknown[]]] : []),
          ...after.map((a) => [update, [a.balance, a.version, a.id]] as [string, unknown[]]),
          [ledger, [ledgerRows]],
          [keyComplete, [response, key]],
          [outbox, [envelopes.map((e) => outboxRow(e))]],
        ];
        if (batched) {
          await connection.query([...writes.map(([sql]) => sql), 'COMMIT'].join(';'), writes.flatMap(([, params]) => params));
        } else {
          for (const [sql, params] of writes) await connection.query(sql, params);
          await connection.query('COMMIT');
        }
        return true;
      } catch (error) {
        await connection.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        connection.release();
      }
    },
    close: () => pool.end(),
  };
}

/** utime + stime of a lab process (clock ticks), by its pid file or pid; undefined when not readable. */
function cpuTicks(name: string | number): number | undefined {
  try {
    const pid = typeof name === 'number' ? name : (JSON.parse(fs.readFileSync(path.join(runPaths.pids, `${name}.json`), 'utf8')) as { pid: number }).pid;
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}
const ticksPerSecond = 100; // USER_HZ on Linux

interface Result {
  variant: string;
  perSecond: number;
  errors: number;
  cpu: { self: number; service: number | undefined; mysql: number | undefined; toxiproxy: number | undefined };
  load: number[];
}

async function measure(variant: string): Promise<Result> {
  const id = isolationId(env, `thru_${variant.replace(/-/g, '_')}`);
  const database = await createMigratedDatabase(env, id);
  await database.pool.query('INSERT INTO accounts (id, owner, currency, balance, version) VALUES ?', [accounts.map((a) => [a, a, 'EUR', openingBalance, 1])]);
  const driver =
    variant === 'service'
      ? await serviceDriver(path.resolve('src/services/command/index.ts'), id)
      : variant === 'baseline'
        ? await serviceDriver(path.resolve(values.baseline!, 'src/services/command/index.ts'), id)
        : variant === 'service-process'
          ? await serviceDriver('process', id)
          : await bareDriver(id, variant === 'bare');
  let counting = false;
  let running = true;
  let done = 0;
  let errors = 0;
  const firstErrors: string[] = [];
  const workers = Array.from({ length: concurrency }, async (_, worker) => {
    while (running) {
      try {
        const ok = await driver.command(worker);
        if (counting) ok ? (done += 1) : (errors += 1);
      } catch (error) {
        if (counting) errors += 1;
        if (firstErrors.length < 3) firstErrors.push(String(error));
      }
    }
  });
  await new Promise((resolve) => setTimeout(resolve, warmupSeconds * 1000));
  const cpuBefore = { self: process.cpuUsage(), service: driver.pid ? cpuTicks(driver.pid) : undefined, mysql: cpuTicks('mysql'), toxiproxy: cpuTicks('toxiproxy') };
  const started = performance.now();
  counting = true;
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  counting = false;
  const elapsed = (performance.now() - started) / 1000;
  const self = process.cpuUsage(cpuBefore.self);
  const delta = (name: string | number, before: number | undefined) => {
    const now = cpuTicks(name);
    return now === undefined || before === undefined ? undefined : (now - before) / ticksPerSecond / elapsed;
  };
  const cpu = { self: (self.user + self.system) / 1e6 / elapsed, service: driver.pid ? delta(driver.pid, cpuBefore.service) : undefined, mysql: delta('mysql', cpuBefore.mysql), toxiproxy: delta('toxiproxy', cpuBefore.toxiproxy) };
  const load = os.loadavg();
  running = false;
  await Promise.all(workers);
  await driver.close();
  // Sanity: every applied command left one ledger entry per account it touched, and nothing else.
  const [[{ n }]] = (await database.pool.query('SELECT COUNT(*) AS n FROM outbox_event')) as unknown as [[{ n: number }]];
  if (Number(n) === 0) throw new Error(`${variant}: no outbox rows written (${firstErrors.join('; ')})`);
  await database.drop();
  if (firstErrors.length) console.log(`  ${variant}: first errors: ${firstErrors.join(' | ')}`);
  return { variant, perSecond: done / elapsed, errors, cpu, load };
}

const pct = (value: number | undefined) => (value === undefined ? '  -' : `${Math.round(value * 100)}%`.padStart(4));
console.log(`workload ${workload}: ${accountCount} accounts, ${concurrency} in flight, ${dbConnections} MySQL connections, ${seconds} s per measurement after ${warmupSeconds} s warm-up, ${rounds} round(s); ${os.cpus().length} cores`);
const results: Result[] = [];
for (let round = 1; round <= rounds; round += 1) {
  for (const variant of variants) {
    const result = await measure(variant);
    results.push(result);
    console.log(
      `round ${round} ${variant.padEnd(11)} ${result.perSecond.toFixed(0).padStart(6)} commands/s  errors ${result.errors}  cpu: this process ${pct(result.cpu.self)},${result.cpu.service === undefined ? '' : ` service process ${pct(result.cpu.service)},`} mysqld ${pct(result.cpu.mysql)}, toxiproxy ${pct(result.cpu.toxiproxy)}  loadavg ${result.load.map((l) => l.toFixed(1)).join(' ')}`,
    );
  }
}
const mean = (variant: string) => {
  const of = results.filter((r) => r.variant === variant);
  return of.length ? of.reduce((sum, r) => sum + r.perSecond, 0) / of.length : undefined;
};
const bare = mean('bare') ?? mean('bare-serial');
console.log('mean over rounds:');
for (const variant of variants) {
  const value = mean(variant)!;
  console.log(`  ${variant.padEnd(11)} ${value.toFixed(0).padStart(6)} commands/s${bare && !variant.startsWith('bare') ? `  = ${(value / bare).toFixed(2)} × bare` : ''}`);
}
console.log(`loadavg at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
