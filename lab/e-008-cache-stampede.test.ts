/**
 * E-008 — Cache stampede: what each defense is worth when a hot key expires.
 *
 * Question  A hot key expires under hundreds of concurrent readers spread over several query-service
 *           processes. How many DB queries does one expiry cost, and what does it do to p99 — with naive
 *           cache-aside, and with each defense alone and all together?
 * Setup     3 query-service processes (real processes, one Redis, one MariaDB, 10 DB connections each),
 *           200 closed-loop readers (round-robin over the processes, 200 ms between reads), TTL 3 s. The
 *           services reach MariaDB over a link of their own with 200 ms latency (Toxiproxy): a recompute
 *           is slow, as in production under load; every pooled connection is opened before measuring.
 *           Queries are counted by MariaDB itself (its general log, lab/observe/statement-log.ts), never
 *           by the service: the statements of one expiry form a burst, separated from the next by ~TTL.
 * Fault     None but time: the key expires every ~3 s for 14 s; only expiries that began ≥ 1.5 s before
 *           the readers stopped are counted (a later one could be cut short).
 * Expected  Anchors: naive ≈ readers per expiry; lock / leases ≈ 1; XFetch without a lock ≈ e^(1/β)
 *           (2.7 at β = 1, Vattani et al. VLDB 2015).
 *           ❌ naive cache-aside: ≥ readers/4 queries per expiry (≈ readers when every reader asks again
 *              within one recompute: 194–210 measured at load 13; fewer when the machine starves the
 *              readers), p99 ≫ the DB latency (pool queueing).
 *           ✅ single-flight per process: ≤ 1 per process per expiry — and still ≥ 2 with 3 processes
 *              (per-process dedupe is not enough).
 *           ✅ Redis lock (SET NX PX) with stale serving: ≤ 1.5 per expiry, readers served stale meanwhile.
 *           ✅ XFetch alone (β = 1): ≤ readers/4 per expiry, refreshed before expiry (early refreshes > 0).
 *              Measured 2.6–5.8 at load ~13 but 21 at load ~20: XFetch learns the recompute time from the
 *              DB read (δ), while the new value becomes visible only after the populate — on a starved
 *              machine much later (spanMs) — and the count grows like e^(span/(δβ)).
 *           ✅ all defenses (the service's defaults): ≤ 2 per expiry (1–1.4 measured).
 *           ❌ 30 keys populated together, lock on, no jitter: 1 query per key per expiry, but their
 *              expiries (freshUntil of the entries, read from Redis) lie within 500 ms (p10–p90).
 *           ✅ TTL jitter ±40 %: the same keys' expiries spread ≥ 1 s (uniform: 0.8 × 2.4 s ≈ 1.9 s). The DB
 *              side is reported, not judged: each key's first refresh waits for its next reader, and on a
 *              loaded machine that delay blurs both arms (p10–p90 of first refreshes, most per 100 ms).
 * Numbers   One `[e-008]` line per arm: expiries (complete), queries, perExpiry (mean), maxPerExpiry,
 *           spanMs (first to last query of an expiry), peak100ms (most queries in a 100 ms window),
 *           expirySpreadMs / firstSpreadMs (p10–p90 of the keys' expiries / first refreshes), p99 ms of
 *           every read, stale (reads answered stale), db (reads that waited for the DB), early (XFetch
 *           refreshes, the service's own count), errors; then a table next to the anchors.
 */
import { afterAll } from 'vitest';
import { balanceKey, getBalance, type BalanceCacheOptions } from '../src/contract.ts';
import { createArena, type Arena } from './infra/arena.ts';
import { sleep } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { atLeast, atMost, equals, experiment, p } from './kit/index.ts';
import type { History } from './history/history.ts';
import { privateLink } from './nemesis/links.ts';
import { Nemesis } from './nemesis/nemesis.ts';
import { observeService } from './observe/service.ts';
import { openStatementLog } from './observe/statement-log.ts';
import { bursts, peakInWindow } from './util/bursts.ts';
import { startReaders } from './workloads/balance-readers.ts';
import { percentile } from './util/statistics.ts';

const env = labEnvironment();
const [PROCESSES, POOL, READERS, THINK_MS, DB_LATENCY_MS, TTL_MS, RUN_MS, SETTLE_MS, KEYS] = [3, 10, 200, 200, 200, 3000, 14_000, 1500, 30];
const lock: Partial<BalanceCacheOptions> = { singleFlight: true, redisLock: true, earlyRefresh: false, ttlJitter: 0, staleMs: TTL_MS };
const naive: Partial<BalanceCacheOptions> = { singleFlight: false, redisLock: false, earlyRefresh: false, ttlJitter: 0, staleMs: 0 };
const table: string[] = [];
const e008 = experiment({ id: 'E-008', title: 'Cache stampede: what each defense is worth when a hot key expires', suite: 'lab/e-008',
  question: 'A hot key expires under hundreds of concurrent readers spread over several query-service processes. How many DB queries does one expiry cost, and what does it do to p99 — with naive cache-aside, and with each defense alone and all together?',
  setup: `${PROCESSES} query-service processes, ${READERS} closed-loop readers, TTL ${TTL_MS} ms, DB reached with ${DB_LATENCY_MS} ms latency; queries counted in MariaDB's general log`,
  fault: 'the hot key (or 30 keys populated together) expires every TTL while the readers read',
  arena: (label) => createArena(env, `e008_${label}`, 1, { topics: false }) });

/** Runs the readers against `keys` accounts through 3 query-services configured with `cache`; counts the DB's statements. */
async function stampede(arena: Arena, history: History, cache: Partial<BalanceCacheOptions>, keys = 1) {
  const accounts = Array.from({ length: keys }, (_, i) => `${arena.id}-k${i}`);
  const warm = Array.from({ length: PROCESSES * POOL }, (_, i) => `${arena.id}-w${i}`);
  for (const account of [...accounts, ...warm]) {
    await arena.database.pool.execute("INSERT INTO account_balance_view (account_id, owner, currency, balance, version, last_event_id) VALUES (?, 'o', 'EUR', 1000, 1, UUID())", [account]);
  }
  const link = await privateLink(env, `${arena.id}-db`, env.descriptor.mysql.proxy ?? 'mysql');
  arena.defer(() => link.proxy.remove());
  const nemesis = new Nemesis(env, history);
  arena.defer(() => nemesis.heal());
  const mysql = { ...arena.config.mysql, host: link.host, port: link.port };
  const services = await Promise.all(Array.from({ length: PROCESSES }, () => arena.start('query', { mysql, redis: arena.redisConfig(), cache: { ttlMs: TTL_MS, ...cache }, dbConnections: POOL })));
  await nemesis.latency(link.proxy.name, DB_LATENCY_MS);
  const log = await openStatementLog(arena.database.pool);
  arena.defer(() => log.close());
  // Every pooled connection opened and its statement prepared (two more round trips on a cold one).
  await Promise.all(warm.map((account, i) => fetch(`${services[i % PROCESSES]!.url}/accounts/${account}/balance`).then((r) => r.text())));
  // Every key populated at once: keys cached together expire together unless their TTLs are jittered.
  await Promise.all(accounts.map((account, i) => fetch(`${services[i % PROCESSES]!.url}/accounts/${account}/balance`).then((r) => r.text())));
  // When each entry stops being fresh, read from Redis: the expiries jitter spreads (or not).
  const expiresAt = (await Promise.all(accounts.map((account) => getBalance(arena.redis(), balanceKey(arena.keyPrefix, account))))).map((entry) => entry?.freshUntil ?? Number.NaN);
  const since = Date.now();
  const readers = startReaders(services.map((s) => s.url), { readers: READERS, thinkMs: THINK_MS, pick: () => accounts[Math.floor(Math.random() * keys)]! });
  await sleep(RUN_MS);
  const read = await readers.stop();
  await sleep(DB_LATENCY_MS * 3); // the last populates' statements are logged
  const statements = await log.executed(`account_balance_view WHERE account_id = '${arena.id}-k`, since);
  const times = statements.map((s) => s.at);
  // Per key: its expiries are the bursts of its queries; only those that began SETTLE_MS before the stop.
  const expiries = accounts.flatMap((account) => bursts(statements.filter((s) => s.text.includes(`'${account}'`)).map((s) => s.at), TTL_MS / 3)).filter((b) => b.start <= read.stoppedAt - SETTLE_MS);
  const queries = expiries.reduce((sum, b) => sum + b.count, 0);
  // When each key was first refreshed after being populated with the others: together, or spread by jitter.
  const firsts = accounts.map((account) => statements.find((s) => s.text.includes(`'${account}'`))?.at).filter((t): t is number => t !== undefined);
  const early = (await Promise.all(services.map((s) => observeService(s).metric('cache_early_refresh_total')))).reduce((a, b) => a + b, 0);
  return {
    expiries: expiries.length, queries, perExpiry: expiries.length ? queries / expiries.length : Number.NaN,
    maxPerExpiry: Math.max(0, ...expiries.map((b) => b.count)), spanMs: expiries.length ? Math.round(expiries.reduce((sum, b) => sum + b.end - b.start, 0) / expiries.length) : 0, peak100ms: peakInWindow(times, 100),
    expirySpreadMs: Math.round(percentile(expiresAt, 90) - percentile(expiresAt, 10)),
    firstSpreadMs: firsts.length > 1 ? Math.round(percentile(firsts, 90) - percentile(firsts, 10)) : 0,
    'p99 ms': read.latencies, stale: read.sources.stale ?? 0, db: read.sources.db ?? 0, early, errors: read.errors,
  };
}

/** One row of the report's table: the measured queries per expiry and p99 next to the anchor's prediction. */
function row(defense: string, anchor: string, n: Awaited<ReturnType<typeof stampede>>) {
  table.push(`| ${defense} | ${anchor} | ${n.perExpiry.toFixed(2)} (max ${n.maxPerExpiry}, ${n.expiries} expiries) | ${n.peak100ms} | ${n.expirySpreadMs} / ${n.firstSpreadMs} | ${Math.round(percentile(n['p99 ms'], 99))} |`);
  return n;
}

const hot = { combine: { 'p99 ms': p(99) }, caseTimeoutMs: 90_000 };
e008.arm('❌ naive cache-aside: every reader recomputes', { ...hot, label: 'naive',
  expect: { expiries: atLeast(2), perExpiry: atLeast(READERS / 4), errors: equals(0) },
  run: async ({ arena, history }) => row('naive cache-aside', `≈ readers (${READERS})`, await stampede(arena, history, naive)) });

e008.arm('✅ single-flight per process: one recompute per process, not one in all', { ...hot, label: 'single',
  expect: { expiries: atLeast(2), maxPerExpiry: atMost(PROCESSES), perExpiry: atLeast(2), errors: equals(0) },
  run: async ({ arena, history }) => row('single-flight (per process)', `≈ processes (${PROCESSES})`, await stampede(arena, history, { ...naive, singleFlight: true })) });

e008.arm('✅ Redis lock with stale serving: one recompute across processes', { ...hot, label: 'lock',
  expect: { expiries: atLeast(2), perExpiry: atMost(1.5), stale: atLeast(1), errors: equals(0) },
  run: async ({ arena, history }) => row('Redis lock + stale', '≈ 1', await stampede(arena, history, { ...naive, redisLock: true, staleMs: TTL_MS })) });

e008.arm('✅ XFetch: probabilistic early refresh before expiry', { ...hot, label: 'xfetch',
  expect: { expiries: atLeast(2), perExpiry: atMost(READERS / 4), early: atLeast(1), errors: equals(0) },
  run: async ({ arena, history }) => row('XFetch (β = 1), no lock', '≈ e^(1/β) = 2.72', await stampede(arena, history, { ...naive, earlyRefresh: true, earlyRefreshBeta: 1 })) });

e008.arm('✅ all defenses combined (the service defaults)', { ...hot, label: 'all',
  expect: { expiries: atLeast(2), perExpiry: atMost(2), errors: equals(0) },
  run: async ({ arena, history }) => row('all combined', '≈ 1', await stampede(arena, history, {})) });

e008.arm('❌ keys populated together expire together (lock, no jitter)', { ...hot, label: 'sync',
  expect: { expirySpreadMs: atMost(500), maxPerExpiry: atMost(1), errors: equals(0) },
  run: async ({ arena, history }) => row(`${KEYS} keys, lock, no jitter`, `1 per key; all ${KEYS} expire at once`, await stampede(arena, history, lock, KEYS)) });

e008.arm('✅ TTL jitter spreads the expiries of keys populated together', { ...hot, label: 'jitter',
  expect: { expirySpreadMs: atLeast(1000), maxPerExpiry: atMost(1), errors: equals(0) },
  run: async ({ arena, history }) => row(`${KEYS} keys, lock, jitter ±40 %`, `1 per key; expiries spread ≈ ${Math.round(0.8 * 2 * 0.4 * TTL_MS)} ms (p10–p90)`, await stampede(arena, history, { ...lock, ttlJitter: 0.4 }, KEYS)) });

afterAll(() => {
  for (const line of ['| defense | anchor (per expiry) | DB queries per expiry (measured) | peak / 100 ms | expiries / first refreshes p10–p90 ms | p99 ms |', '|---|---|---|---|---|---|', ...table]) e008.log(line);
});
