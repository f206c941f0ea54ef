/** Timeouts and circuit breakers around a service's dependencies (E-023). */
export { dependencyGuard, DependencyUnavailableError, resolveGuardOptions, type BreakerState, type DependencyGuard, type GuardHooks, type GuardOptions, type ResilienceMode } from './guard.ts';
export { guardedRedis, guardedRedisCommands } from './guarded-redis.ts';
export { isDatabaseUnavailable } from './mysql.ts';
export { guardMetrics } from './metrics.ts';
