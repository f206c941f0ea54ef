/**
 * The cross-process refresh lock of the balance cache: `SET <key> <token> NX PX <ttl>`. One holder per
 * key across every query-service process; the PX bounds how long a crashed holder blocks the others.
 * Release compares the token first (Lua, one atomic step) so a holder whose lock already expired never
 * deletes the lock a later holder took: the classic single-instance Redis lock, which is enough here
 * because the lock only *reduces* DB load, it never guards correctness (set-if-newer does that).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

export function refreshLockKey(cacheKey: string): string {
  return `${cacheKey}:refresh-lock`;
}

/** Returns the token when acquired, undefined when another holder has it. */
export async function tryAcquireRefreshLock(redis: Redis, lockKey: string, ttlMs: number): Promise<string | undefined> {
  const token = randomUUID();
  const result = await redis.set(lockKey, token, 'PX', Math.max(1, Math.round(ttlMs)), 'NX');
  return result === 'OK' ? token : undefined;
}

const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

export async function releaseRefreshLock(redis: Redis, lockKey: string, token: string): Promise<boolean> {
  return (await redis.eval(releaseScript, 1, lockKey, token)) === 1;
}

export async function isRefreshLocked(redis: Redis, lockKey: string): Promise<boolean> {
  return (await redis.exists(lockKey)) === 1;
}
