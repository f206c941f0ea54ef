/**
 * The dependency guard of E-023 (src/resilience): a hung call ends at the timeout, consecutive failures
 * open the breaker (then calls fail at once), a trial after the half-open delay closes it again; answers
 * of a working dependency (a business error) never count; mode 'none' is a pass-through. And the Redis
 * proxy guards the cache's commands only.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { dependencyGuard, DependencyUnavailableError, guardedRedis, isDatabaseUnavailable } from '../../src/resilience/index.ts';

const hang = () => new Promise<never>(() => undefined);
const unavailable = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

async function reason(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  return error instanceof DependencyUnavailableError ? error.reason : String(error);
}

describe('dependencyGuard', () => {
  it("mode 'none' calls straight through, never times out", async () => {
    const guard = dependencyGuard('mysql', undefined, isDatabaseUnavailable);
    expect(guard.enabled).toBe(false);
    expect(await guard.run(async () => 7)).toBe(7);
    await expect(guard.run(async () => Promise.reject(unavailable))).rejects.toBe(unavailable);
  });

  it('times a hung call out, opens after consecutive failures, rejects at once, closes after a good trial', async () => {
    const states: string[] = [];
    let aborted = 0;
    const guard = dependencyGuard('redis', { mode: 'breaker', timeoutMs: 30, failures: 2, halfOpenAfterMs: 100 }, () => true, { onStateChange: (s) => states.push(s) });
    const hung = (signal: AbortSignal) => (signal.addEventListener('abort', () => (aborted += 1)), hang());
    expect(await reason(guard.run(hung))).toBe('timeout');
    expect(guard.state()).toBe('closed');
    expect(await reason(guard.run(hung))).toBe('timeout');
    expect(guard.state()).toBe('open');
    expect(aborted).toBe(2);
    const started = performance.now();
    expect(await reason(guard.run(async () => 1))).toBe('open');
    expect(performance.now() - started).toBeLessThan(25);
    await sleep(120);
    expect(await guard.run(async () => 'back')).toBe('back');
    expect(guard.state()).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('a business error passes through and never opens the breaker', async () => {
    const guard = dependencyGuard('mysql', { mode: 'breaker', failures: 1 }, isDatabaseUnavailable);
    const duplicate = Object.assign(new Error('Duplicate entry'), { errno: 1062 });
    await expect(guard.run(async () => Promise.reject(duplicate))).rejects.toBe(duplicate);
    expect(guard.state()).toBe('closed');
    await expect(guard.run(async () => Promise.reject(unavailable))).rejects.toBe(unavailable);
    expect(guard.state()).toBe('open');
  });

  it('refuses nonsense options', () => {
    expect(() => dependencyGuard('x', { mode: 'breaker', timeoutMs: 0 }, () => true)).toThrow(/timeoutMs/);
    expect(() => dependencyGuard('x', { mode: 'sometimes' as never }, () => true)).toThrow(/mode/);
  });
});

describe('isDatabaseUnavailable', () => {
  it('lost or refused connections yes; lock waits, deadlocks, duplicates no', () => {
    expect(isDatabaseUnavailable(unavailable)).toBe(true);
    expect(isDatabaseUnavailable({ code: 'PROTOCOL_CONNECTION_LOST', fatal: true })).toBe(true);
    expect(isDatabaseUnavailable({ errno: 2013 })).toBe(true);
    for (const errno of [1205, 1213, 1062]) expect(isDatabaseUnavailable({ errno })).toBe(false);
  });
});

describe('guardedRedis', () => {
  it("guards the cache's commands and leaves the rest alone", async () => {
    const fake = { get: hang, on: () => 'listening', status: 'ready' } as unknown as Redis;
    const guard = dependencyGuard('redis', { mode: 'breaker', timeoutMs: 20, failures: 5 }, () => true);
    const redis = guardedRedis(fake, guard);
    expect(await reason(redis.get('k'))).toBe('timeout');
    expect((redis.on as unknown as () => string)()).toBe('listening');
    expect(redis.status).toBe('ready');
    expect(guardedRedis(fake, dependencyGuard('redis', undefined, () => true))).toBe(fake);
  });
});
