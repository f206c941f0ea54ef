/**
 * The balance cache's storage format and the two writes the pipeline shares: the consumer invalidates
 * after a projection commit, the query-service populates after a DB read.
 *
 *   key    <keyPrefix>balance:<accountId>
 *   value  JSON CachedBalance
 *
 * `setIfNewer` is a Lua script so the version comparison and the write are one atomic step: a reader
 * that read version 7 from the DB can never overwrite version 8 written meanwhile (the read-populate
 * race of cache-aside, E-013). Lua is the right tool *here*, inside Redis, beside the DB as truth.
 */
import type { Redis } from 'ioredis';

export interface CachedBalance {
  accountId: string;
  balance: number;
  version: number;
  /** Epoch ms when the value was read from the DB. */
  cachedAt: number;
  /** Epoch ms after which the value is stale (served only under the stampede lock, flagged). */
  freshUntil: number;
  /** How long the DB read took (ms): XFetch's delta. */
  computeMs: number;
}

export function balanceKey(keyPrefix: string, accountId: string): string {
  return `${keyPrefix}balance:${accountId}`;
}

const setIfNewerScript = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and decoded.version and tonumber(decoded.version) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1`;

/** Writes `value` unless the cache already holds a newer version. Returns whether it wrote. */
export async function setBalanceIfNewer(redis: Redis, key: string, value: CachedBalance, ttlMs: number): Promise<boolean> {
  const written = await redis.eval(setIfNewerScript, 1, key, JSON.stringify(value), String(value.version), String(Math.max(1, Math.round(ttlMs))));
  return written === 1;
}

/** Plain cache-aside write (no version check): what a naive populate does. */
export async function setBalance(redis: Redis, key: string, value: CachedBalance, ttlMs: number): Promise<void> {
  await redis.set(key, JSON.stringify(value), 'PX', Math.max(1, Math.round(ttlMs)));
}

export async function getBalance(redis: Redis, key: string): Promise<CachedBalance | undefined> {
  const raw = await redis.get(key);
  if (raw === null) return undefined;
  try {
    return JSON.parse(raw) as CachedBalance;
  } catch {
    return undefined; // a corrupt entry is a miss, never an error to the reader
  }
}

export type InvalidationMode = 'delete' | 'versioned' | 'none';

/**
 * After the projection committed `version`: `delete` removes the entry (next read repopulates);
 * `versioned` writes the new value with set-if-newer (no miss storm after every write); `none` is the
 * anti-pattern (stale until TTL).
 */
export async function invalidateBalance(
  redis: Redis,
  keyPrefix: string,
  mode: InvalidationMode,
  update: { accountId: string; balance: number; version: number },
  ttlMs: number,
): Promise<void> {
  const key = balanceKey(keyPrefix, update.accountId);
  if (mode === 'delete') await redis.del(key);
  else if (mode === 'versioned') {
    const now = Date.now();
    await setBalanceIfNewer(redis, key, { ...update, cachedAt: now, freshUntil: now + ttlMs, computeMs: 0 }, ttlMs);
  }
}
