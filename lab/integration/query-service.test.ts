/**
 * query-service: cache-aside over Redis for balances read from the projection.
 *
 * Question  Does the query-service answer from the projection through the cache (db, then cache), keep
 *           a hot key's expiry from turning into a DB stampede when its defenses are on, and keep an
 *           older DB read from overwriting a newer cached version (the E-013 read-populate race)?
 * Setup     A fresh migrated database (rows inserted into account_balance_view directly) and Redis key
 *           prefix; query-services in process (two instances sharing Redis where a Redis lock matters).
 * Fault     Stampede: 200 concurrent reads (100 per instance) of one cold, then one stale key, with the
 *           populate slowed to 200 ms by the failpoint 'query.after-db-read-before-cache-set' (a slow
 *           recompute), defenses on vs all off. Race: the same failpoint (300 ms) holds a populate while
 *           the projection moves to a newer version and that version is written to the cache.
 * Expected  Defenses on: ≤ 2 DB queries (≈ 1) per expiry, stale readers flagged 'stale'; off: > 20.
 *           set-if-newer keeps the newer cached version; populate 'plain' leaves the older one (❌).
 * Numbers   `[query-service] …`: DB queries per expiry and p99 latency for each arm.
 */
import type { Redis } from 'ioredis';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balanceKey, failpoints, getBalance, invalidateBalance, setBalance, setBalanceIfNewer, startService, type BalanceCacheOptions, type CachedBalance, type RunningService } from '../../src/contract.ts';
import { waitFor } from '../infra/ports.ts';
import { fileArena, labEnvironment } from '../infra/vitest.ts';
import { percentile } from '../util/statistics.ts';

const env = labEnvironment();
const report = (line: string) => console.log(`[query-service] ${line}`);
const populateFailpoint = 'query.after-db-read-before-cache-set';

const arena = fileArena(env, 'query', 1, { topics: false });
let redis: Redis;
let keyPrefix: string;

beforeAll(async () => {
  ({ keyPrefix } = arena);
  redis = arena.redis();
});

afterAll(async () => {
  failpoints.clear(populateFailpoint);
});

async function startQuery(cache: Partial<BalanceCacheOptions> = {}): Promise<RunningService> {
  return arena.own(await startService('query', { mysql: arena.config.mysql, redis: arena.redisConfig(), cache }));
}

async function insertAccount(accountId: string, balance: number, version: number): Promise<void> {
  await arena.database.pool.execute('INSERT INTO account_balance_view (account_id, owner, currency, balance, version, last_event_id) VALUES (?, ?, ?, ?, ?, UUID())', [accountId, 'owner', 'EUR', balance, version]);
}

async function updateAccount(accountId: string, balance: number, version: number): Promise<void> {
  await arena.database.pool.execute('UPDATE account_balance_view SET balance = ?, version = ?, last_event_id = UUID() WHERE account_id = ?', [balance, version, accountId]);
}

interface BalanceResponse {
  status: number;
  body: { accountId?: string; balance?: number; version?: number; source?: string; error?: string; reason?: string };
  ms: number;
}

async function getBalanceOver(service: RunningService, accountId: string): Promise<BalanceResponse> {
  const started = performance.now();
  const response = await request(`${service.url}/accounts/${encodeURIComponent(accountId)}/balance`);
  const body = (await response.body.json()) as BalanceResponse['body'];
  return { status: response.statusCode, body, ms: performance.now() - started };
}

const dbQueries = (service: RunningService) => service.metrics.value('db_queries_total');
const p99 = (values: number[]) => percentile(values, 99);

describe('query-service', () => {
  it('reads through the cache: db, then cache; 404 unknown; 400 invalid id; a deleted entry shows the new value', async () => {
    const service = await startQuery();
    await insertAccount('acct-1', 500, 1);

    const first = await getBalanceOver(service, 'acct-1');
    expect(first).toMatchObject({ status: 200, body: { accountId: 'acct-1', balance: 500, version: 1, source: 'db' } });
    const second = await getBalanceOver(service, 'acct-1');
    expect(second).toMatchObject({ status: 200, body: { accountId: 'acct-1', balance: 500, version: 1, source: 'cache' } });
    expect(await dbQueries(service)).toBe(1);
    expect(await service.metrics.value('cache_hits_total')).toBe(1);
    expect(await service.metrics.value('cache_misses_total')).toBe(1);
    const cached = await getBalance(redis, balanceKey(keyPrefix, 'acct-1'));
    expect(cached).toMatchObject({ accountId: 'acct-1', balance: 500, version: 1 });
    // Freshness within the jittered TTL (30 s ± 10 %), Redis keeps it stale-servable 5 s longer.
    expect(cached!.freshUntil - cached!.cachedAt).toBeGreaterThanOrEqual(27_000);
    expect(cached!.freshUntil - cached!.cachedAt).toBeLessThanOrEqual(33_000);
    const pttl = await redis.pttl(balanceKey(keyPrefix, 'acct-1'));
    expect(pttl).toBeGreaterThan(cached!.freshUntil - Date.now());

    const unknown = await getBalanceOver(service, 'acct-none');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('account-not-found');
    for (const bad of ['bad id!', 'x'.repeat(65), 'a.b']) {
      const invalid = await getBalanceOver(service, bad);
      expect(invalid.status).toBe(400);
      expect(invalid.body.error).toBe('invalid-account-id');
      expect(invalid.body.reason).toMatch(/account id must match/);
    }

    // The projection moves on; until the entry goes, the cache answers the old value…
    await updateAccount('acct-1', 700, 2);
    expect((await getBalanceOver(service, 'acct-1')).body).toMatchObject({ balance: 500, version: 1, source: 'cache' });
    // …and after the consumer's invalidation (delete) the next read shows the new one.
    await invalidateBalance(redis, keyPrefix, 'delete', { accountId: 'acct-1', balance: 700, version: 2 }, 30_000);
    expect((await getBalanceOver(service, 'acct-1')).body).toMatchObject({ balance: 700, version: 2, source: 'db' });
    expect((await getBalanceOver(service, 'acct-1')).body).toMatchObject({ balance: 700, version: 2, source: 'cache' });
  });

  it('stampede: 200 concurrent reads of a cold or stale key cost ≈ 1 DB query with the defenses, > 20 without', async () => {
    const allOff: Partial<BalanceCacheOptions> = { singleFlight: false, redisLock: false, earlyRefresh: false, ttlJitter: 0, staleMs: 0 };
    const on = [await startQuery(), await startQuery()];
    const off = [await startQuery(allOff), await startQuery(allOff)];
    // A slow recompute (200 ms between the DB read and the populate) so every reader arrives before the
    // first populate: the stampede then happens with certainty, not by timing luck.
    failpoints.set(populateFailpoint, 'sleep(200)');
    try {
      const stampede = async (instances: RunningService[], accountId: string) => {
        const before = (await Promise.all(instances.map(dbQueries))).reduce((a, b) => a + b, 0);
        const responses = await Promise.all(instances.flatMap((instance) => Array.from({ length: 100 }, () => getBalanceOver(instance, accountId))));
        const after = (await Promise.all(instances.map(dbQueries))).reduce((a, b) => a + b, 0);
        for (const response of responses) expect(response).toMatchObject({ status: 200, body: { accountId, balance: 1000 } });
        const sources: Record<string, number> = {};
        for (const response of responses) sources[response.body.source!] = (sources[response.body.source!] ?? 0) + 1;
        return { queries: after - before, p99: p99(responses.map((r) => r.ms)), sources };
      };

      await insertAccount('hot-on', 1000, 1);
      await insertAccount('hot-off', 1000, 1);
      const cold = await stampede(on, 'hot-on');
      const coldOff = await stampede(off, 'hot-off');
      report(`cold key, 200 readers on 2 instances: defenses on → ${cold.queries} DB queries (p99 ${cold.p99.toFixed(0)} ms, ${JSON.stringify(cold.sources)}); all off → ${coldOff.queries} DB queries (p99 ${coldOff.p99.toFixed(0)} ms)`);
      expect(cold.queries).toBeGreaterThanOrEqual(1);
      expect(cold.queries).toBeLessThanOrEqual(2);
      expect(coldOff.queries).toBeGreaterThan(20);

      // Expired: the entry is past freshness but inside the stale window. One reader refreshes; the
      // instance that loses the Redis lock answers with the stale value, flagged.
      const now = Date.now();
      const staleEntry: CachedBalance = { accountId: 'hot-on', balance: 1000, version: 1, cachedAt: now - 31_000, freshUntil: now - 1000, computeMs: 1 };
      await setBalance(redis, balanceKey(keyPrefix, 'hot-on'), staleEntry, 10_000);
      await setBalance(redis, balanceKey(keyPrefix, 'hot-off'), { ...staleEntry, accountId: 'hot-off' }, 10_000);
      const lockWaitsBefore = (await Promise.all(on.map((s) => s.metrics.value('cache_lock_waits_total')))).reduce((a, b) => a + b, 0);
      const stale = await stampede(on, 'hot-on');
      const staleOff = await stampede(off, 'hot-off');
      const lockWaits = (await Promise.all(on.map((s) => s.metrics.value('cache_lock_waits_total')))).reduce((a, b) => a + b, 0) - lockWaitsBefore;
      report(`stale key, 200 readers on 2 instances: defenses on → ${stale.queries} DB queries (p99 ${stale.p99.toFixed(0)} ms, ${JSON.stringify(stale.sources)}, lock waits ${lockWaits}); all off → ${staleOff.queries} DB queries (p99 ${staleOff.p99.toFixed(0)} ms)`);
      expect(stale.queries).toBeGreaterThanOrEqual(1);
      expect(stale.queries).toBeLessThanOrEqual(2);
      expect(stale.sources.stale ?? 0).toBeGreaterThan(0);
      expect(staleOff.queries).toBeGreaterThan(20);
      expect(staleOff.sources.stale ?? 0).toBe(0);
      const staleServed = (await Promise.all(on.map((s) => s.metrics.value('cache_stale_served_total')))).reduce((a, b) => a + b, 0);
      expect(staleServed).toBeGreaterThan(0);
    } finally {
      failpoints.clear(populateFailpoint);
    }
  });

  it('set-if-newer: an older populate never overwrites a newer cached version; a plain SET does', async () => {
    const key = balanceKey(keyPrefix, 'direct');
    const entry = (version: number, balance: number): CachedBalance => ({ accountId: 'direct', balance, version, cachedAt: Date.now(), freshUntil: Date.now() + 30_000, computeMs: 1 });
    expect(await setBalanceIfNewer(redis, key, entry(5, 50), 30_000)).toBe(true);
    expect(await setBalanceIfNewer(redis, key, entry(4, 40), 30_000)).toBe(false);
    expect(await getBalance(redis, key)).toMatchObject({ version: 5, balance: 50 });
    expect(await setBalanceIfNewer(redis, key, entry(6, 60), 30_000)).toBe(true);
    await setBalance(redis, key, entry(4, 40), 30_000);
    expect(await getBalance(redis, key)).toMatchObject({ version: 4, balance: 40 });
  });

  it('the read-populate race (E-013): set-if-newer keeps the newer version, populate "plain" leaves the older one', async () => {
    const versioned = await startQuery();
    const plain = await startQuery({ populate: 'plain' });

    const race = async (service: RunningService, accountId: string) => {
      await insertAccount(accountId, 100, 1);
      failpoints.set(populateFailpoint, 'sleep(300)');
      try {
        const reading = getBalanceOver(service, accountId);
        // The reader has read version 1 and now sits between the DB read and its cache write.
        await waitFor('the populate to pause at the failpoint', async () => failpoints.stats()[populateFailpoint]?.fired === 1, { timeoutMs: 5000, intervalMs: 5 });
        // Meanwhile the projection commits version 2 and the consumer writes it to the cache.
        await updateAccount(accountId, 150, 2);
        await invalidateBalance(redis, keyPrefix, 'versioned', { accountId, balance: 150, version: 2 }, 30_000);
        const read = await reading;
        expect(read).toMatchObject({ status: 200, body: { balance: 100, version: 1, source: 'db' } });
      } finally {
        failpoints.clear(populateFailpoint);
      }
      return getBalance(redis, balanceKey(keyPrefix, accountId));
    };

    const kept = await race(versioned, 'race-versioned');
    expect(kept).toMatchObject({ balance: 150, version: 2 });
    expect(await versioned.metrics.value('cache_populate_rejected_total')).toBe(1);
    expect((await getBalanceOver(versioned, 'race-versioned')).body).toMatchObject({ balance: 150, version: 2, source: 'cache' });

    const overwritten = await race(plain, 'race-plain');
    expect(overwritten).toMatchObject({ balance: 100, version: 1 });
    // The DB says version 2; the cache serves version 1 until its TTL: cache ≠ DB.
    expect((await getBalanceOver(plain, 'race-plain')).body).toMatchObject({ balance: 100, version: 1, source: 'cache' });
    report('read-populate race: set-if-newer kept version 2; plain populate left version 1 over DB version 2');
  });
});
