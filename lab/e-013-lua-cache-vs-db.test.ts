/**
 * E-013 — A Lua "atomic" cache update beside the DB transaction vs the DB as the truth.
 *
 * Question  A Lua script updates the cache atomically — in Redis. Beside a DB transaction, can
 *           rollbacks, racing writers and readers leave the cache ≠ the DB once everything is quiet, and
 *           does "the DB is the truth, invalidate after commit, versioned set-if-newer" close every gap?
 * Setup     One account row (balance 100, version 1) in MariaDB, its entry in Redis (warm or absent);
 *           writers are DB transactions (BEGIN; UPDATE balance + n, version + 1; COMMIT or ROLLBACK) on
 *           connections of their own, readers are the query-service's own read path (BalanceCache via
 *           src/contract.ts: GET, on a miss SELECT, then populate). fast-check's scheduler
 *           (lab/generators/interleaving.ts) orders their steps; each step runs to completion, or until
 *           MariaDB reports it waiting for a row lock, before the next is released.
 * Fault     The interleaving itself (generated, then shrunk): no process is killed.
 * Expected  ❌ Lua beside the transaction (a writer sets the cached entry with a Lua script, or deletes it,
 *              before or after its COMMIT; readers populate with a plain SET): fast-check finds, in each
 *              of three scenarios — update-then-rollback, two writers racing, a reader populating after an
 *              invalidation — an interleaving leaving cache ≠ DB after quiescence, and shrinks it; the
 *              minimal one is printed as a numbered interleaving. (fc.scheduler's order does not shrink
 *              itself — fast-check 4.10's SchedulerArbitrary has no shrinker —: the case shrinks under the
 *              same random picks, so a "minimal" race may keep a third writer.)
 *           ✅ DB is the truth: writers touch the cache only after COMMIT, with a versioned set-if-newer
 *              of the committed value (invalidateBalance 'versioned'); readers populate with set-if-newer
 *              (the service's default): cache = DB after quiescence in every generated interleaving, and
 *              while live the cache is behind the DB only between a commit and that writer's own cache
 *              write (unexplained stale observations = 0); the races really happened (rejected populates,
 *              rollbacks and lock waits ≥ 1).
 * Numbers   ❌ per scenario: runs until found, shrink steps, the seed, the numbered interleaving.
 *           ✅ runs, diverged, unexplained, staleSteps and the longest stale window (steps, ms).
 */
import fc from 'fast-check';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { BalanceCache, balanceKey, getBalance, invalidateBalance, setBalance, type CachedBalance } from '../src/contract.ts';
import { propertyParameters } from './generators/run.ts';
import { Interleaving, interleavingScheduler } from './generators/interleaving.ts';
import { createArena, type Arena } from './infra/arena.ts';
import { labEnvironment } from './infra/vitest.ts';
import { deadline } from './util/deadline.ts';
import { atLeast, equals, experiment } from './kit/index.ts';

const env = labEnvironment();
const TTL_MS = 60_000;
let played = 0; // accounts are fresh per case: one row each
const e013 = experiment({ id: 'E-013', title: 'A Lua "atomic" cache update beside the DB transaction vs the DB as the truth', suite: 'lab/e-013',
  question: 'A Lua script updates the cache atomically — in Redis. Beside a DB transaction, can rollbacks, racing writers and readers leave the cache ≠ the DB once everything is quiet, and does "the DB is the truth, invalidate after commit, versioned set-if-newer" close every gap?',
  setup: 'one account row in MariaDB and its Redis entry; writers are DB transactions, readers the query-service BalanceCache; fc.scheduler orders every step',
  fault: 'generated interleavings of rollbacks, racing writers and readers (shrunk when one breaks cache = DB)',
  arena: (label) => createArena(env, `e013_${label}`, 1, { topics: false }) });

interface Writer { amount: number; outcome: 'commit' | 'rollback'; cache: 'lua-update' | 'delete'; at: 'before-commit' | 'after-commit' }
interface Case { warm: boolean; writers: Writer[]; readers: number }
type Mode = 'lua' | 'truth';

/** The ❌ writer's Lua: set the cached entry to what the transaction computed, when one is cached (atomic — in Redis). */
const luaUpdate = "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end return 0";

class CacheDiverged extends Error {}

const writer = (w: Partial<{ [K in keyof Writer]: fc.Arbitrary<Writer[K]> }> = {}) => fc.record({
  amount: fc.integer({ min: 1, max: 9 }), outcome: fc.constantFrom<Writer['outcome']>('commit', 'rollback'),
  cache: fc.constantFrom<Writer['cache']>('lua-update', 'delete'), at: fc.constantFrom<Writer['at']>('before-commit', 'after-commit'), ...w });
const commit = fc.constant<Writer['outcome']>('commit');
const scenarios: Array<[string, fc.Arbitrary<Case>]> = [
  ['update-then-rollback', fc.record({ warm: fc.constant(true), writers: fc.array(writer({ cache: fc.constant('lua-update') }), { minLength: 1, maxLength: 3 }), readers: fc.constant(0) })],
  ['two writers racing', fc.record({ warm: fc.constant(true), writers: fc.array(writer({ outcome: commit, cache: fc.constant('lua-update') }), { minLength: 2, maxLength: 3 }), readers: fc.constant(0) })],
  ['a reader populating after an invalidation', fc.record({ warm: fc.boolean(), writers: fc.array(writer({ outcome: commit, cache: fc.constant('delete') }), { minLength: 1, maxLength: 2 }), readers: fc.integer({ min: 1, max: 2 }) })],
];
const anyCase: fc.Arbitrary<Case> = fc.record({ warm: fc.boolean(), writers: fc.array(writer(), { maxLength: 3 }), readers: fc.integer({ min: 1, max: 3 }) });

interface Stats { runs: number; raced: number; rejected: number; rollbacks: number; lockWaits: number; staleSteps: number; unexplained: number; longestSteps: number; longestMs: number }
const entry = (accountId: string, balance: number, version: number): CachedBalance => ({ accountId, balance, version, cachedAt: Date.now(), freshUntil: Date.now() + TTL_MS, computeMs: 0 });
const show = (v: { balance: number; version: number } | undefined) => (v ? `${v.balance} v${v.version}` : 'absent');

/** One generated case on a fresh account: the actors, their steps in the scheduler's order, and cache vs DB after quiescence. */
async function play(arena: Arena, mode: Mode, s: fc.Scheduler, c: Case, stats: Stats): Promise<string[]> {
  stats.runs += 1;
  const accountId = `${arena.id}-${(played += 1)}`;
  const key = balanceKey(arena.keyPrefix, accountId);
  const redis = arena.redis();
  const pool = arena.database.pool;
  await pool.execute("INSERT INTO account_balance_view (account_id, owner, currency, balance, version, last_event_id) VALUES (?, 'o', 'EUR', 100, 1, UUID())", [accountId]);
  if (c.warm) await setBalance(redis, key, entry(accountId, 100, 1), TTL_MS);
  const truth = async () => { const [rows] = await pool.query<RowDataPacket[]>('SELECT balance, version FROM account_balance_view WHERE account_id = ?', [accountId]); return { balance: Number(rows[0]!.balance), version: Number(rows[0]!.version) }; };
  const connections: PoolConnection[] = [];
  const connection = async () => { const conn = await pool.getConnection(); connections.push(conn); return conn; };
  const pending = new Set<string>(); // writers that committed and have not written the cache yet
  let staleSince: { steps: number; at: number } | undefined;
  const observe = async () => { // while live (✅): is the cache behind the DB, and is a committed writer's cache write still to come?
    if (mode !== 'truth') return;
    const [db, cached] = await Promise.all([truth(), getBalance(redis, key)]);
    const behind = cached !== undefined && (cached.version !== db.version || cached.balance !== db.balance);
    if (behind) { stats.staleSteps += 1; if (pending.size === 0) stats.unexplained += 1; staleSince ??= { steps: 0, at: performance.now() }; staleSince.steps += 1; }
    else if (staleSince) { stats.longestSteps = Math.max(stats.longestSteps, staleSince.steps); stats.longestMs = Math.max(stats.longestMs, performance.now() - staleSince.at); staleSince = undefined; }
  };
  const run = new Interleaving(s, async () => { const [rows] = await pool.query<RowDataPacket[]>("SELECT trx_mysql_thread_id AS id FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'"); return new Set(rows.map((r) => Number(r.id))); }, observe);
  try {
    for (const [i, w] of c.writers.entries()) {
      const conn = await connection();
      run.actor(`W${i + 1}`, conn.threadId, async (me) => {
        await me.step('UPDATE');
        const mine = await me.db(async () => {
          await conn.beginTransaction();
          await conn.execute('UPDATE account_balance_view SET balance = balance + ?, version = version + 1 WHERE account_id = ?', [w.amount, accountId]);
          const [rows] = await conn.query<RowDataPacket[]>('SELECT balance, version FROM account_balance_view WHERE account_id = ?', [accountId]);
          return { balance: Number(rows[0]!.balance), version: Number(rows[0]!.version) };
        });
        stats.lockWaits += me.waitedForLock() ? 1 : 0;
        me.say(`BEGIN; UPDATE balance + ${w.amount} → ${show(mine)} (not committed${me.waitedForLock() ? '; had waited for the row lock' : ''})`);
        const cacheWrite = async () => {
          await me.step('cache');
          if (mode === 'truth') { await invalidateBalance(redis, arena.keyPrefix, 'versioned', { accountId, ...mine }, TTL_MS); pending.delete(me.name); return me.say(`set-if-newer cache ← ${show(mine)} → cache ${show(await getBalance(redis, key))}`); }
          if (w.cache === 'delete') { await redis.del(key); return me.say('DEL cache (invalidate)'); }
          const set = await redis.eval(luaUpdate, 1, key, JSON.stringify(entry(accountId, mine.balance, mine.version)), String(TTL_MS));
          me.say(set === 1 ? `Lua: cache ← ${show(mine)}` : 'Lua: nothing cached, nothing updated');
        };
        if (mode === 'lua' && w.at === 'before-commit') await cacheWrite();
        await me.step(w.outcome.toUpperCase());
        if (w.outcome === 'commit') { await conn.commit(); if (mode === 'truth') pending.add(me.name); } else { await conn.rollback(); stats.rollbacks += 1; }
        me.say(w.outcome === 'commit' ? 'COMMIT' : 'ROLLBACK');
        if (w.outcome === 'commit' && (mode === 'truth' || w.at === 'after-commit')) await cacheWrite();
      });
    }
    for (let i = 0; i < c.readers; i++) {
      const conn = await connection();
      run.actor(`R${i + 1}`, conn.threadId, async (me) => {
        const cache = new BalanceCache({ redis, keyPrefix: arena.keyPrefix, options: { ttlMs: TTL_MS, ttlJitter: 0, staleMs: 0, singleFlight: false, redisLock: false, earlyRefresh: false, populate: mode === 'truth' ? 'set-if-newer' : 'plain' },
          load: async (id) => {
            me.say('GET cache: miss');
            await me.step('SELECT');
            const [rows] = await conn.query<RowDataPacket[]>('SELECT balance, version FROM account_balance_view WHERE account_id = ?', [id]);
            const row = { balance: Number(rows[0]!.balance), version: Number(rows[0]!.version) };
            me.say(`SELECT → ${show(row)}`);
            await me.step('populate');
            return row;
          } });
        await me.step('GET');
        const read = await cache.get(accountId);
        if (read.source === 'cache') return me.say(`GET cache: hit ${show(read.value)}`);
        stats.rejected += cache.stats['populate-rejected'];
        if (read.value!.version < (await truth()).version) stats.raced += 1; // it read a version older than the one committed by its populate
        me.say(cache.stats['populate-rejected'] ? `set-if-newer cache ← ${show(read.value)}: refused, cache holds ${show(await getBalance(redis, key))}` : `${mode === 'truth' ? 'set-if-newer' : 'SET'} cache ← ${show(read.value)}`);
      });
    }
    await deadline(run.run(), 30_000, () => new Error(`the interleaving did not finish within 30 s:\n${run.log.join('\n')}`));
  } finally {
    for (const conn of connections) { await conn.rollback().catch(() => undefined); conn.release(); }
  }
  const [db, cached] = await Promise.all([truth(), getBalance(redis, key)]);
  const lines = [...run.log, `quiet: DB ${show(db)}, cache ${show(cached)}`];
  if (cached && (cached.balance !== db.balance || cached.version !== db.version)) throw new CacheDiverged(lines.join('\n'));
  return lines;
}

/** fast-check over generated cases: the seed, runs, and the shrunk counterexample when cache ≠ DB. */
async function explore(arena: Arena, mode: Mode, cases: fc.Arbitrary<Case>, numRuns: number, stats: Stats) {
  // Never fewer runs than asked (LAB_RUNS may raise them), and shrink: the minimal interleaving is the point.
  const parameters = { ...propertyParameters(numRuns), numRuns: Math.max(numRuns, Number(process.env.LAB_RUNS ?? 0)), endOnFailure: false } as fc.Parameters<[fc.Scheduler, Case]>;
  const details = await fc.check(fc.asyncProperty(interleavingScheduler(), cases, async (s, c) => void (await play(arena, mode, s, c, stats))), parameters);
  if (details.failed && !(details.errorInstance instanceof CacheDiverged)) throw details.errorInstance;
  return { found: details.failed, seed: details.seed, runs: details.numRuns, shrinks: details.numShrinks, counterexample: details.counterexample?.[1], steps: details.failed ? String((details.errorInstance as Error).message).split('\n') : [] };
}

const fresh = (): Stats => ({ runs: 0, raced: 0, rejected: 0, rollbacks: 0, lockWaits: 0, staleSteps: 0, unexplained: 0, longestSteps: 0, longestMs: 0 });

e013.arm('❌ Lua beside the transaction: fast-check finds and shrinks cache ≠ DB in each scenario', { label: 'lua', caseTimeoutMs: 300_000,
  expect: { found: equals(scenarios.length) },
  run: async ({ arena, log }) => {
    let found = 0;
    for (const [name, cases] of scenarios) {
      const result = await explore(arena, 'lua', cases, 300, fresh());
      found += result.found ? 1 : 0;
      log(`❌ ${name}: ${result.found ? `cache ≠ DB found in run ${result.runs} (seed ${result.seed}), shrunk in ${result.shrinks} steps to ${JSON.stringify(result.counterexample)}:` : `not found in ${result.runs} runs (seed ${result.seed})`}`);
      for (const [i, step] of result.steps.entries()) log(`   ${i + 1}. ${step}`);
    }
    return { found, scenarios: scenarios.length };
  } });

e013.arm('✅ DB is the truth: invalidate after commit with versioned set-if-newer, cache = DB in every interleaving', { label: 'truth', caseTimeoutMs: 300_000,
  expect: { diverged: equals(0), unexplained: equals(0), raced: atLeast(1), rejected: atLeast(1), rollbacks: atLeast(1), lockWaits: atLeast(1) },
  run: async ({ arena, log }) => {
    const stats = fresh();
    const result = await explore(arena, 'truth', anyCase, 200, stats);
    if (result.found) for (const [i, step] of result.steps.entries()) log(`   ${i + 1}. ${step}`);
    log(`✅ ${stats.runs} interleavings (seed ${result.seed}): stale while live in ${stats.staleSteps} step observations, longest ${stats.longestSteps} steps / ${Math.round(stats.longestMs)} ms, every one before the committing writer's own cache write`);
    return { runs: stats.runs, diverged: result.found ? 1 : 0, unexplained: stats.unexplained, raced: stats.raced, rejected: stats.rejected, rollbacks: stats.rollbacks, lockWaits: stats.lockWaits, staleSteps: stats.staleSteps, longestStaleSteps: stats.longestSteps, longestStaleMs: Math.round(stats.longestMs) };
  } });
