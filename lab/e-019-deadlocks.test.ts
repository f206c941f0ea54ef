/**
 * E-019 — Deadlocks and lock contention.
 *
 * Question  Transfers lock two account rows. Locked in opposite orders under concurrency, how much work
 *           fails with deadlocks (1213) and lock wait timeouts (1205), what does "catch 1205 and commit" do
 *           to the money, and do ordered locking, a retry of the whole transaction with backoff and a DLQ
 *           after the last attempt apply every transfer exactly once with the money conserved?
 * Setup     A fresh wallet database (MariaDB: 10.11 local, 11.8 in containers), 4 accounts of 1,000,000
 *           each; a transfer = INSERT transfers (its primary key: applied once) + a debit and a credit
 *           UPDATE, one transaction. 960 transfers between the 4 accounts in both directions, applied by 8
 *           workers, session innodb_lock_wait_timeout = 1 s. Observers: plain SQL (SUM(balance), the
 *           transfers table, information_schema.INNODB_TRX) and SHOW GLOBAL STATUS 'Innodb_deadlocks'.
 * Fault     Contention itself, plus deterministic choreographies on two connections:
 *             deadlock  T1 debits A, T2 debits B, T1 credits B (waits: INNODB_TRX says LOCK WAIT), T2
 *                       credits A: the cycle, one 1213;
 *             timeout   T2 holds B; T1 debits A, credits B and waits 1 s: 1205, and the buggy handler
 *                       commits anyway;
 *             hogs      (✅) an open transaction holds account H for good (its 2 transfers exhaust 3
 *                       attempts), another holds G until G's transfer failed once (it then succeeds).
 * Expected  ❌ debit-then-credit order, no retry: the deadlock victim's transaction is gone entirely
 *              (@@in_transaction 0) and its transfer is lost; after 1205 the transaction is still open
 *              (@@in_transaction 1, the statement alone rolled back; innodb_rollback_on_timeout is read-
 *              only) and the commit breaks conservation by exactly the amount; in the workload every failed
 *              transfer is lost (lost = failed); every deadlock a client saw is in Innodb_deadlocks.
 *           ✅ ids locked in ascending order (src/db/transaction-retry.ts inLockOrder), retryTransaction
 *              (3 attempts, full-jitter backoff 20..200 ms), RetriesExhaustedError → the DLQ topic: no
 *              deadlock, money conserved, exactly the 2 hogged transfers in the DLQ, G's applied on its
 *              2nd attempt; after the hog ends a DLQ replay applies them, a second replay is a no-op:
 *              every transfer applied once. "Sometimes": retries ≥ 1, recovered ≥ 1.
 * 11.8      Checked by hand on the containers' MariaDB 11.8.9 (not run there as a suite): the same 1213 / 1205 /
 *           @@in_transaction / read-only innodb_rollback_on_timeout / −100 drift. But innodb_snapshot_isolation
 *           is ON there: a transaction that read the accounts with a plain SELECT before its writes fails
 *           with 1020 when another committed a row after its snapshot (360 of 480 ordered transfers, 8
 *           workers) where 10.11 waits; 1020 is retryable (src/db/pool.ts), so retryTransaction covers it.
 * Numbers   Per arm: throughput (applied transfers/s of the 960-transfer workload — the two arms side by
 *           side), failed / lost, deadlocks (clients' 1213) vs innodbDeadlocks (server delta), timeouts
 *           (1205), drift (SUM(balance) − start); ✅: retries, recovered, dlq, replayed, duplicates.
 */
import type mysql from 'mysql2/promise';
import { inLockOrder, retryTransaction, RetriesExhaustedError, type TransactionRetryPolicy } from '../src/contract.ts';
import { createArena, type Arena } from './infra/arena.ts';
import { kafka, mysqlPool } from './infra/clients.ts';
import { waitFor } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { atLeast, equals, experiment } from './kit/index.ts';
import { readTopic } from './observe/topic.ts';

const env = labEnvironment();
const accounts = ['acct-a', 'acct-b', 'acct-c', 'acct-d'];
const [startBalance, amount, workers, total] = [1_000_000, 100, 8, 960];
const policy: TransactionRetryPolicy = { maxAttempts: 3, backoff: { initialMs: 20, maxMs: 200 } };
const e019 = experiment({ id: 'E-019', title: 'Deadlocks and lock contention', suite: 'lab/e-019',
  question: 'Transfers lock two account rows. Locked in opposite orders under concurrency, how much work fails with deadlocks (1213) and lock wait timeouts (1205), what does "catch 1205 and commit" do to the money, and do ordered locking, a retry of the whole transaction with backoff and a DLQ after the last attempt apply every transfer exactly once with the money conserved?',
  arena: (label) => createArena(env, `e019_${label}`, 1) });

type Transfer = { id: string; from: string; to: string; amount: number };
type Row = mysql.RowDataPacket;
const errnoOf = (e: unknown) => (e as { errno?: number }).errno ?? 0;
/** Opposite directions interleaved (a→b, b→a, c→d, d→c, a→c, …): the workload both arms apply. */
const workload: Transfer[] = Array.from({ length: total }, (_, i) => {
  const pair = [[0, 1], [2, 3], [0, 2], [1, 3], [0, 3], [1, 2]][Math.floor(i / 2) % 6]!;
  const [from, to] = i % 2 ? [pair[1]!, pair[0]!] : [pair[0]!, pair[1]!];
  return { id: `w-${i}`, from: accounts[from]!, to: accounts[to]!, amount: 1 + (i % 7) };
});

/** Plain SQL, outside the code under test. */
const one = async (pool: mysql.Pool | mysql.PoolConnection, sql: string, params: unknown[] = []) => ((await pool.query<Row[]>(sql, params))[0][0] ?? {}) as Row;
const money = async (pool: mysql.Pool) => Number((await one(pool, 'SELECT SUM(balance) AS s FROM accounts')).s);
const innodbDeadlocks = async (pool: mysql.Pool) => Number((await one(pool, "SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'")).Value);
const applied = async (pool: mysql.Pool, ids: string[]) => Number((await one(pool, 'SELECT COUNT(*) AS n FROM transfers WHERE id IN (?)', [ids])).n);

async function setUp(arena: Arena, ids = accounts) {
  await arena.database.pool.query('INSERT INTO accounts (id, owner, currency, balance) VALUES ?', [ids.map((id) => [id, id, 'KRW', startBalance])]);
  // The clients under test: 1 s lock waits, per session (innodb_lock_wait_timeout is dynamic).
  const pool = mysqlPool(env, arena.database.name, { connectionLimit: workers + 2 });
  pool.on('connection', (c) => void c.query('SET SESSION innodb_lock_wait_timeout = 1'));
  arena.defer(() => pool.end());
  return { pool, before: { money: await money(arena.database.pool), deadlocks: await innodbDeadlocks(arena.database.pool) } };
}

/** One transfer inside the caller's transaction: the row lock of each account in `order`, debit or credit. */
async function applyTransfer(connection: mysql.PoolConnection, t: Transfer, order: string[]) {
  await connection.query('INSERT INTO transfers (id, from_account_id, to_account_id, amount) VALUES (?, ?, ?, ?)', [t.id, t.from, t.to, t.amount]);
  for (const id of order) await connection.query('UPDATE accounts SET balance = balance + ?, version = version + 1 WHERE id = ?', [id === t.from ? -t.amount : t.amount, id]);
}

/** `apply` over the workload with `workers` concurrent workers; seconds taken. */
async function drive(transfers: Transfer[], apply: (t: Transfer) => Promise<void>) {
  const queue = [...transfers];
  const started = performance.now();
  await Promise.all(Array.from({ length: workers }, async () => { for (let t = queue.shift(); t; t = queue.shift()) await apply(t); }));
  return (performance.now() - started) / 1000;
}

/** Two connections of the pool, waiting up to `waitS` for a row lock, and their thread ids (the observer watches their lock waits). */
async function pair(pool: mysql.Pool, waitS = 1) {
  const connections = [await pool.getConnection(), await pool.getConnection()];
  const threads = await Promise.all(connections.map(async (c) => (await c.query('SET SESSION innodb_lock_wait_timeout = ?', [waitS]), Number((await one(c, 'SELECT CONNECTION_ID() AS id')).id))));
  const release = async () => { for (const c of connections) { await c.query('SET SESSION innodb_lock_wait_timeout = 1').catch(() => undefined); c.release(); } };
  return { connections: connections as [mysql.PoolConnection, mysql.PoolConnection], threads, release };
}
/**
 * Until INNODB_TRX says the thread waits for a row lock. Polled every 250 ms, not faster: InnoDB serves the
 * table from a cache it refreshes only when nobody read it for 100 ms (trx0i_s.cc, CACHE_MIN_IDLE_TIME_US),
 * so a 20 ms poll froze the first snapshot (both RUNNING) while PROCESSLIST showed T1 "Updating" for 10 s.
 */
const lockWaiting = (observer: mysql.Pool, thread: number) => waitFor(`thread ${thread} in LOCK WAIT`, async () =>
  Number((await one(observer, "SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ? AND trx_state = 'LOCK WAIT'", [thread])).n) === 1, { timeoutMs: 10_000, intervalMs: 250 });
const inTransaction = async (c: mysql.PoolConnection) => Number((await one(c, 'SELECT @@in_transaction AS t')).t);
const debit = (id: string): [string, unknown[]] => ['UPDATE accounts SET balance = balance - ? WHERE id = ?', [amount, id]];
const credit = (id: string): [string, unknown[]] => ['UPDATE accounts SET balance = balance + ? WHERE id = ?', [amount, id]];

/** T1 debits A, T2 debits B, T1 credits B (waits), T2 credits A: one of them is the deadlock victim. */
async function deadlockChoreography(pool: mysql.Pool, observer: mysql.Pool, log: (line: string) => void) {
  const { connections: [t1, t2], threads, release } = await pair(pool, 30); // T1's wait must outlast the observer's look
  try {
    await t1.beginTransaction(); await t2.beginTransaction();
    await t1.query(...debit('acct-a')); await t2.query(...debit('acct-b'));
    const waiting = t1.query(...credit('acct-b')).then(() => 0, errnoOf);
    await lockWaiting(observer, threads[0]!);
    const closing = await t2.query(...credit('acct-a')).then(() => 0, errnoOf);
    const errnos = [await waiting, closing];
    const victim = errnos.indexOf(1213);
    const stillOpen = victim < 0 ? -1 : await inTransaction([t1, t2][victim]!);
    await [t1, t2][1 - victim]?.commit();
    log(`deadlock choreography: T${victim + 1} was the victim (${errnos.join(', ')}), @@in_transaction after 1213 = ${stillOpen}`);
    return { choreographyDeadlocks: errnos.filter((e) => e === 1213).length, victimInTransaction: stillOpen };
  } finally { await Promise.all([t1.rollback(), t2.rollback()]).catch(() => undefined); await release(); }
}

/** T2 holds B; T1 debits A, credits B and times out (1205); the handler commits anyway. */
async function timeoutChoreography(pool: mysql.Pool, observer: mysql.Pool) {
  const { connections: [t1, t2], release } = await pair(pool);
  try {
    await t2.beginTransaction(); await t2.query(...credit('acct-b'));
    await t1.beginTransaction(); await t1.query(...debit('acct-a'));
    const errno = await t1.query(...credit('acct-b')).then(() => 0, errnoOf);
    const stillOpen = await inTransaction(t1);
    if (errno === 1205) await t1.commit(); // the bug: "the lock wait timed out, commit what we have"
    await t2.rollback();
    const readOnly = await observer.query('SET GLOBAL innodb_rollback_on_timeout = 1').then(() => 0, (e) => Number(errnoOf(e) === 1238));
    return { timeouts: Number(errno === 1205), timeoutInTransaction: stillOpen, rollbackOnTimeoutReadOnly: readOnly };
  } finally { await Promise.all([t1.rollback(), t2.rollback()]).catch(() => undefined); await release(); }
}

e019.arm('❌ debit-then-credit lock order, no retry, "catch 1205 and commit"', {
  label: 'naive', caseTimeoutMs: 180_000,
  expect: {
    victimInTransaction: equals(0), timeoutInTransaction: equals(1), rollbackOnTimeoutReadOnly: equals(1),
    choreographyDeadlocks: equals(1), deadlockDrift: equals(0), bugDrift: equals(-amount), lost: equals('failed'), workloadDrift: equals(0),
    deadlocks: equals('innodbDeadlocks'),
  },
  run: async ({ arena, log }) => {
    const observer = arena.database.pool;
    const { pool, before } = await setUp(arena);
    const printAll = Number((await one(observer, 'SELECT @@innodb_print_all_deadlocks AS v')).v);
    await observer.query('SET GLOBAL innodb_print_all_deadlocks = 1'); // dynamic: every deadlock in the error log
    arena.defer(() => observer.query('SET GLOBAL innodb_print_all_deadlocks = ?', [printAll]));
    const deadlock = await deadlockChoreography(pool, observer, log);
    const afterDeadlock = await money(observer);
    const timeout = await timeoutChoreography(pool, observer);
    const afterTimeout = await money(observer);
    const errors = new Map<number, number>();
    const seconds = await drive(workload, async (t) => {
      const c = await pool.getConnection();
      try { await c.beginTransaction(); await applyTransfer(c, t, [t.from, t.to]); await c.commit(); } catch (e) {
        await c.rollback().catch(() => undefined);
        errors.set(errnoOf(e), (errors.get(errnoOf(e)) ?? 0) + 1);
      } finally { c.release(); }
    });
    const done = await applied(observer, workload.map((t) => t.id));
    const failed = [...errors.values()].reduce((a, b) => a + b, 0);
    log(`❌ workload: ${done}/${total} applied in ${seconds.toFixed(1)} s, failed by errno ${JSON.stringify(Object.fromEntries(errors))}`);
    return {
      ...deadlock, ...timeout, deadlockDrift: afterDeadlock - before.money, bugDrift: afterTimeout - afterDeadlock, workloadDrift: (await money(observer)) - afterTimeout,
      failed, lost: total - done, deadlocks: deadlock.choreographyDeadlocks + (errors.get(1213) ?? 0), timeouts: timeout.timeouts + (errors.get(1205) ?? 0),
      innodbDeadlocks: (await innodbDeadlocks(observer)) - before.deadlocks, throughput: Math.round(done / seconds),
    };
  },
});

e019.arm('✅ ordered locking, whole-transaction retry with backoff, DLQ after 3 attempts', {
  label: 'ordered', caseTimeoutMs: 180_000,
  expect: { deadlocks: equals(0), innodbDeadlocks: equals(0), drift: equals(0), wrongBalances: equals(0), dlq: equals(2), appliedOnce: equals('transfers'), duplicates: equals('dlq'), replayed: equals('dlq') },
  sometimes: { retries: atLeast(1), recovered: atLeast(1) },
  run: async ({ arena, log }) => {
    const observer = arena.database.pool;
    const { pool, before } = await setUp(arena, [...accounts, 'acct-g', 'acct-h']);
    const producer = kafka(env, `${arena.id}-dlq`).producer({ idempotent: true });
    await producer.connect();
    arena.defer(() => producer.disconnect());
    let [retries, recovered, deadlocks, dlq] = [0, 0, 0, 0];
    const hooks = new Map<string, () => Promise<unknown>>();
    /** The policy under test: ordered locks, whole transaction retried, parked in the DLQ when exhausted. */
    const apply = async (t: Transfer): Promise<'applied' | 'duplicate' | 'dlq'> => {
      try {
        const { attempts } = await retryTransaction(pool, (c) => applyTransfer(c, t, inLockOrder([t.from, t.to])), policy, {
          onRetry: async (error) => { retries += 1; deadlocks += Number(errnoOf(error) === 1213); await hooks.get(t.id)?.(); },
        });
        recovered += Number(attempts > 1);
        return 'applied';
      } catch (error) {
        if (errnoOf(error) === 1062) return 'duplicate'; // transfers' primary key: applied before
        if (!(error instanceof RetriesExhaustedError)) throw error;
        deadlocks += error.errnos.filter((e) => e === 1213).length;
        await producer.send({ topic: arena.config.topics.dlq, acks: -1, messages: [{ key: t.id, value: JSON.stringify({ ...t, attempts: error.attempts, errnos: error.errnos }) }] });
        dlq += 1;
        return 'dlq';
      }
    };
    const seconds = await drive(workload, async (t) => void (await apply(t)));
    const throughput = Math.round((await applied(observer, workload.map((t) => t.id))) / seconds);
    // The hogs: H held for good (its transfers exhaust their attempts), G until its transfer failed once.
    const { connections: [hogH, hogG], release } = await pair(pool);
    arena.defer(async () => { await Promise.all([hogH.rollback(), hogG.rollback()]).catch(() => undefined); await release(); });
    await hogH.beginTransaction(); await hogH.query(...credit('acct-h'));
    await hogG.beginTransaction(); await hogG.query(...credit('acct-g'));
    const hogged: Transfer[] = [{ id: 'h-1', from: 'acct-a', to: 'acct-h', amount }, { id: 'h-2', from: 'acct-h', to: 'acct-b', amount }, { id: 'g-1', from: 'acct-g', to: 'acct-c', amount }];
    hooks.set('g-1', () => hogG.rollback());
    const outcomes = await Promise.all(hogged.map(apply));
    await hogH.rollback();
    // The DLQ as an outsider reads it, replayed twice through the same policy: the second is a no-op.
    const parked = (await readTopic(env, arena.config.topics.dlq, { expected: dlq, quietMs: 1000, timeoutMs: 30_000 })).map((r) => JSON.parse(r.value!.toString()) as Transfer);
    const replays = [await Promise.all(parked.map(apply)), await Promise.all(parked.map(apply))];
    const all = [...workload, ...hogged];
    const ids = all.map((t) => t.id);
    // Every transfer applied exactly once ⇔ each balance = start + its credits − its debits.
    const expected = (id: string) => startBalance + all.reduce((sum, t) => sum + (t.to === id ? t.amount : 0) - (t.from === id ? t.amount : 0), 0);
    const [balances] = await observer.query<Row[]>('SELECT id, balance FROM accounts');
    log(`✅ workload: ${total}/${total} applied in ${seconds.toFixed(1)} s; hogged transfers ${outcomes.join(', ')}; DLQ replays: ${replays.map((r) => r.join('/')).join(' then ')}`);
    return {
      transfers: ids.length, appliedOnce: await applied(observer, ids), drift: (await money(observer)) - before.money,
      wrongBalances: balances.filter((b) => Number(b.balance) !== expected(b.id as string)).length,
      deadlocks, innodbDeadlocks: (await innodbDeadlocks(observer)) - before.deadlocks, retries, recovered, dlq: parked.length,
      replayed: replays[0]!.filter((o) => o === 'applied').length, duplicates: replays[1]!.filter((o) => o === 'duplicate').length, throughput,
    };
  },
});
