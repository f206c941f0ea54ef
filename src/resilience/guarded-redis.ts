/**
 * An ioredis client whose commands go through a dependency guard (E-023): the balance cache keeps its
 * code, and a Redis that hangs (SIGSTOP, a link holding data) costs a read one timeout instead of the
 * caller's whole patience — ioredis has no per-command timeout by default and waits for the answer.
 * The cache already treats a failed Redis call as a miss and reads the DB (src/cache/balance-cache.ts);
 * with the breaker open the failure is immediate, so reads go straight to the DB.
 *
 * Only the commands the cache sends are guarded (the list below); everything else (events, quit) is the
 * client's own. A command abandoned at its timeout stays queued in ioredis until Redis answers or the
 * connection drops: the breaker opening after `failures` of them bounds how many pile up.
 */
import type { Redis } from 'ioredis';
import type { DependencyGuard } from './guard.ts';

export const guardedRedisCommands = ['get', 'set', 'del', 'exists', 'eval', 'evalsha'] as const;

export function guardedRedis(redis: Redis, guard: DependencyGuard): Redis {
  if (!guard.enabled) return redis;
  const guarded = new Set<string | symbol>(guardedRedisCommands);
  return new Proxy(redis, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (!guarded.has(property) || typeof value !== 'function') return value;
      return (...args: unknown[]) => guard.run(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
    },
  });
}
