/**
 * Cache-aside for account balances over Redis, with the stampede defenses of E-008 and the versioned
 * populate of E-013, each switchable off so an experiment can run the ❌ arm with the same code:
 *
 *   get(id)
 *     entry fresh   → hit ('cache'); XFetch may start ONE background refresh before expiry
 *     entry stale   → refresh; a caller that loses the refresh lock serves the stale value ('stale')
 *     missing/expired → refresh
 *   refresh(id)     single-flight: one load per key per process at a time (Map of promises); joiners
 *                   share the leader's result
 *     redis lock    SET NX PX across processes: the winner reads the cache again (a holder that just
 *                   released may have refreshed it), else reads the DB and populates; a loser serves
 *                   the stale value if there is one, else polls for the winner's value, and reads the
 *                   DB itself once the lock is gone without a value or after `lockWaitMs`
 *     load          DB read → failpoint 'query.after-db-read-before-cache-set' → populate:
 *                   setBalanceIfNewer (an older read never overwrites a newer cached version) or, as
 *                   the naive arm, a plain SET. Entry: freshUntil = now + jittered TTL, PX = TTL + staleMs.
 *
 * Redis failures degrade to the DB (E-023): a failed GET is a miss, a failed lock is "no lock", a
 * failed populate is logged; the DB stays the truth and the caller still gets its answer.
 * The pure decisions (jitter, XFetch, entry state) live in policy.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { failpoint } from '../failpoints/index.ts';
import type { Logger } from '../observability/logger.ts';
import { balanceKey, getBalance, setBalance, setBalanceIfNewer, type CachedBalance } from './balance-store.ts';
import { entryState, jitteredTtl, shouldRefreshEarly } from './policy.ts';
import { isRefreshLocked, refreshLockKey, releaseRefreshLock, tryAcquireRefreshLock } from './refresh-lock.ts';

export type PopulateMode = 'set-if-newer' | 'plain';

export interface BalanceCacheOptions {
  /** Freshness of a populated entry before jitter (ms). */
  ttlMs: number;
  /** Fraction of the TTL added or removed at random (0.1 = ±10 %); 0 = no jitter. */
  ttlJitter: number;
  /** How long past freshness an entry may be served (flagged 'stale') while one caller refreshes; 0 = never. */
  staleMs: number;
  singleFlight: boolean;
  redisLock: boolean;
  lockTtlMs: number;
  /** How long a lock loser without a stale value waits for the winner's value before reading the DB itself. */
  lockWaitMs: number;
  lockPollMs: number;
  earlyRefresh: boolean;
  earlyRefreshBeta: number;
  populate: PopulateMode;
}

export const defaultBalanceCacheOptions: BalanceCacheOptions = {
  ttlMs: 30_000,
  ttlJitter: 0.1,
  staleMs: 5000,
  singleFlight: true,
  redisLock: true,
  lockTtlMs: 2000,
  lockWaitMs: 2000,
  lockPollMs: 20,
  earlyRefresh: true,
  earlyRefreshBeta: 1,
  populate: 'set-if-newer',
};

export function resolveBalanceCacheOptions(options: Partial<BalanceCacheOptions> = {}): BalanceCacheOptions {
  const resolved = { ...defaultBalanceCacheOptions, ...stripUndefined(options) };
  // A loser waiting longer than the lock can live gains nothing: the lock is gone by then.
  if (options.lockWaitMs === undefined) resolved.lockWaitMs = resolved.lockTtlMs;
  for (const name of ['ttlMs', 'lockTtlMs', 'lockPollMs'] as const) {
    if (!(resolved[name] > 0)) throw new Error(`cache: ${name} must be > 0, got ${resolved[name]}`);
  }
  for (const name of ['ttlJitter', 'staleMs', 'lockWaitMs', 'earlyRefreshBeta'] as const) {
    if (!(resolved[name] >= 0)) throw new Error(`cache: ${name} must be >= 0, got ${resolved[name]}`);
  }
  if (resolved.populate !== 'set-if-newer' && resolved.populate !== 'plain') throw new Error(`cache: populate must be 'set-if-newer' or 'plain', got '${String(resolved.populate)}'`);
  return resolved;
}

/** The projection's row as the loader returns it. */
export interface BalanceRow {
  balance: number;
  version: number;
}

export type BalanceSource = 'cache' | 'db' | 'stale';

export interface BalanceRead {
  /** undefined: the account has no projection row. */
  value: CachedBalance | undefined;
  source: BalanceSource;
}

export type CacheEvent = 'hit' | 'miss' | 'stale-served' | 'early-refresh' | 'db-query' | 'lock-wait' | 'populate-rejected';

export interface BalanceCacheDeps {
  redis: Redis;
  keyPrefix: string;
  /** Reads the projection (one DB query). */
  load: (accountId: string) => Promise<BalanceRow | undefined>;
  options?: Partial<BalanceCacheOptions>;
  /** Called on every counted event (metrics). */
  onEvent?: (event: CacheEvent) => void;
  logger?: Logger;
  /** Injected for tests and experiments. */
  now?: () => number;
  random?: () => number;
}

export class BalanceCache {
  readonly options: BalanceCacheOptions;
  /** Counts of each event since construction (experiments read these directly). */
  readonly stats: Record<CacheEvent, number> = { hit: 0, miss: 0, 'stale-served': 0, 'early-refresh': 0, 'db-query': 0, 'lock-wait': 0, 'populate-rejected': 0 };
  private readonly inflight = new Map<string, Promise<BalanceRead>>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly deps: BalanceCacheDeps) {
    this.options = resolveBalanceCacheOptions(deps.options);
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
  }

  key(accountId: string): string {
    return balanceKey(this.deps.keyPrefix, accountId);
  }

  async get(accountId: string): Promise<BalanceRead> {
    const key = this.key(accountId);
    const entry = await this.read(key);
    const state = entryState(entry, this.now(), this.options.staleMs);
    if (state === 'fresh' && entry) {
      this.count('hit');
      if (this.options.earlyRefresh && shouldRefreshEarly({ now: this.now(), freshUntil: entry.freshUntil, computeMs: entry.computeMs ?? 0, beta: this.options.earlyRefreshBeta, random: this.random })) {
        this.count('early-refresh');
        this.refreshInBackground(accountId, key, entry);
      }
      return { value: entry, source: 'cache' };
    }
    this.count('miss');
    return this.refresh(accountId, key, state === 'stale' ? entry : undefined, false);
  }

  /** Resolves when background (early) refreshes started so far have finished. */
  async settle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  private refreshInBackground(accountId: string, key: string, current: CachedBalance): void {
    const task = this.refresh(accountId, key, current, true).catch((error: unknown) => this.deps.logger?.warn({ err: error, accountId }, 'early refresh failed'));
    this.background.add(task);
    void task.finally(() => this.background.delete(task));
  }

  /** Single-flight around the guarded load: concurrent callers in this process share one promise. */
  private refresh(accountId: string, key: string, stale: CachedBalance | undefined, background: boolean): Promise<BalanceRead> {
    if (!this.options.singleFlight) return this.guardedLoad(accountId, key, stale, background);
    const running = this.inflight.get(key);
    if (running) return running;
    const started = this.guardedLoad(accountId, key, stale, background).finally(() => {
      if (this.inflight.get(key) === started) this.inflight.delete(key);
    });
    this.inflight.set(key, started);
    return started;
  }

  /** The Redis lock: one loader across processes; losers serve stale or wait for the winner. */
  private async guardedLoad(accountId: string, key: string, stale: CachedBalance | undefined, background: boolean): Promise<BalanceRead> {
    if (!this.options.redisLock) return this.loadAndPopulate(accountId, key);
    const lockKey = refreshLockKey(key);
    let token: string | undefined;
    try {
      token = await tryAcquireRefreshLock(this.deps.redis, lockKey, this.options.lockTtlMs);
    } catch (error) {
      this.deps.logger?.warn({ err: error, accountId }, 'refresh lock unavailable (Redis); reading the DB without it');
      return this.loadAndPopulate(accountId, key);
    }
    if (token) {
      try {
        // Checked again under the lock: a caller that read the entry before the previous holder populated
        // it can take the lock just after that holder released it, and would read the DB for a value that
        // is already fresh in the cache (E-008 measured 1.67 DB queries per expiry, at most 2, without this).
        const current = await this.read(key);
        if (current && entryState(current, this.now(), 0) === 'fresh' && (!stale || current.cachedAt > stale.cachedAt)) return { value: current, source: 'cache' };
        return await this.loadAndPopulate(accountId, key);
      } finally {
        await releaseRefreshLock(this.deps.redis, lockKey, token).catch(() => undefined); // PX frees it anyway
      }
    }
    // Someone else (another process) is refreshing.
    if (background && stale) return { value: stale, source: 'cache' };
    this.count('lock-wait');
    if (stale) {
      this.count('stale-served');
      return { value: stale, source: 'stale' };
    }
    const found = await this.awaitWinner(key, lockKey);
    return found ?? this.loadAndPopulate(accountId, key);
  }

  /** Polls for the lock winner's value; undefined when the lock went away without one or the wait ran out. */
  private async awaitWinner(key: string, lockKey: string): Promise<BalanceRead | undefined> {
    const deadline = performance.now() + this.options.lockWaitMs;
    const freshValue = async () => {
      const entry = await this.read(key);
      return entry && entryState(entry, this.now(), 0) === 'fresh' ? ({ value: entry, source: 'cache' } as const) : undefined;
    };
    while (performance.now() < deadline) {
      await sleep(this.options.lockPollMs);
      const found = await freshValue();
      if (found) return found;
      // The winner finished without populating (unknown account, DB error): stop waiting, read ourselves.
      const locked = await isRefreshLocked(this.deps.redis, lockKey).catch(() => false);
      if (!locked) return freshValue();
    }
    return undefined;
  }

  private async loadAndPopulate(accountId: string, key: string): Promise<BalanceRead> {
    const started = performance.now();
    this.count('db-query');
    const row = await this.deps.load(accountId);
    const computeMs = performance.now() - started;
    if (!row) return { value: undefined, source: 'db' };
    // The E-013 window: a newer version may be committed and cached between this read and the write below.
    await failpoint('query.after-db-read-before-cache-set');
    const now = this.now();
    const ttl = this.options.ttlJitter > 0 ? jitteredTtl(this.options.ttlMs, this.options.ttlJitter, this.random) : this.options.ttlMs;
    const value: CachedBalance = { accountId, balance: row.balance, version: row.version, cachedAt: now, freshUntil: now + ttl, computeMs: Math.round(computeMs * 1000) / 1000 };
    const redisTtl = ttl + this.options.staleMs;
    try {
      if (this.options.populate === 'plain') await setBalance(this.deps.redis, key, value, redisTtl);
      else if (!(await setBalanceIfNewer(this.deps.redis, key, value, redisTtl))) this.count('populate-rejected');
    } catch (error) {
      this.deps.logger?.warn({ err: error, accountId }, 'cache populate failed (Redis); served from the DB');
    }
    return { value, source: 'db' };
  }

  private async read(key: string): Promise<CachedBalance | undefined> {
    try {
      return await getBalance(this.deps.redis, key);
    } catch (error) {
      this.deps.logger?.warn({ err: error, key }, 'cache read failed (Redis); treating as a miss');
      return undefined;
    }
  }

  private count(event: CacheEvent): void {
    this.stats[event] += 1;
    this.deps.onEvent?.(event);
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
