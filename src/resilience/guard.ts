/**
 * A dependency guard (E-023): a timeout and a circuit breaker around every call a service makes to one
 * dependency (Redis, MySQL), from cockatiel (3.x: cockatiel 4 requires Node 22, the lab runs on 20).
 *
 *   const guard = dependencyGuard('mysql', { mode: 'breaker', timeoutMs: 2000 }, isDatabaseUnavailable);
 *   await guard.run((signal) => query(…, signal));   // DependencyUnavailableError: timed out, or the breaker is open
 *
 * Why: a dependency that hangs (a SIGSTOPped server, a link that holds data) never answers and the
 * clients have no timeout of their own (ioredis without commandTimeout, mysql2 queries), so every
 * request waits until its caller gives up. The timeout bounds one call (Aggressive: the caller gets the
 * error at the deadline whether or not the call honours the abort signal; `signal` lets it clean up, e.g.
 * destroy a MySQL connection that is stuck in a query); after `failures` consecutive failures the breaker
 * opens and calls fail at once for `halfOpenAfterMs`, then one trial call decides whether it closes.
 *
 * `mode: 'none'` (the default) is the service as it was before E-023: calls go straight through.
 * Only failures `isFailure` accepts (and timeouts) count: a business error (a 409, a duplicate key) says
 * the dependency works.
 */
import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen, TaskCancelledError, timeout, TimeoutStrategy, wrap } from 'cockatiel';

export type ResilienceMode = 'none' | 'breaker';

export interface GuardOptions {
  /** 'none' (default): no timeout, no breaker. */
  mode?: ResilienceMode;
  /** Bound of one call (ms); default 1000. */
  timeoutMs?: number;
  /** Consecutive failures that open the breaker; default 3. */
  failures?: number;
  /** How long an open breaker rejects before one trial call (ms); default 2000. Also the Retry-After. */
  halfOpenAfterMs?: number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/** The dependency did not answer in time, or its breaker is open: the call was not (or not fully) made. */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: string,
    readonly reason: 'timeout' | 'open',
    /** When a new call may succeed (the breaker's half-open delay). */
    readonly retryAfterMs: number,
  ) {
    super(reason === 'open' ? `${dependency} unavailable: circuit breaker open` : `${dependency} did not answer in time`);
    this.name = 'DependencyUnavailableError';
  }
}

export interface DependencyGuard {
  readonly dependency: string;
  readonly enabled: boolean;
  state(): BreakerState;
  run<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

export interface GuardHooks {
  onStateChange?(state: BreakerState): void;
  onUnavailable?(reason: 'timeout' | 'open'): void;
}

const never = new AbortController().signal;
const states: Record<CircuitState, BreakerState> = { [CircuitState.Closed]: 'closed', [CircuitState.Open]: 'open', [CircuitState.HalfOpen]: 'half-open', [CircuitState.Isolated]: 'open' };

export function resolveGuardOptions(options: GuardOptions = {}): Required<GuardOptions> {
  const resolved = { mode: options.mode ?? 'none', timeoutMs: options.timeoutMs ?? 1000, failures: options.failures ?? 3, halfOpenAfterMs: options.halfOpenAfterMs ?? 2000 };
  if (resolved.mode !== 'none' && resolved.mode !== 'breaker') throw new Error(`resilience: mode must be 'none' or 'breaker', got '${String(resolved.mode)}'`);
  for (const name of ['timeoutMs', 'failures', 'halfOpenAfterMs'] as const) {
    if (!(resolved[name] > 0)) throw new Error(`resilience: ${name} must be > 0, got ${resolved[name]}`);
  }
  return resolved;
}

export function dependencyGuard(dependency: string, options: GuardOptions | undefined, isFailure: (error: unknown) => boolean, hooks: GuardHooks = {}): DependencyGuard {
  const resolved = resolveGuardOptions(options);
  if (resolved.mode === 'none') return { dependency, enabled: false, state: () => 'closed', run: (work) => work(never) };
  // instanceof, not cockatiel's isTaskCancelledError: in 3.2.1 that one tests for a bulkhead rejection.
  const breaker = circuitBreaker(handleWhen((error) => error instanceof TaskCancelledError || isFailure(error)), {
    halfOpenAfter: resolved.halfOpenAfterMs,
    breaker: new ConsecutiveBreaker(resolved.failures),
  });
  breaker.onStateChange((state) => hooks.onStateChange?.(states[state]));
  const policy = wrap(breaker, timeout(resolved.timeoutMs, TimeoutStrategy.Aggressive));
  return {
    dependency,
    enabled: true,
    state: () => states[breaker.state],
    run: async (work) => {
      try {
        return await policy.execute(({ signal }) => work(signal));
      } catch (error) {
        const reason = error instanceof BrokenCircuitError ? 'open' : error instanceof TaskCancelledError ? 'timeout' : undefined;
        if (!reason) throw error;
        hooks.onUnavailable?.(reason);
        throw new DependencyUnavailableError(dependency, reason, resolved.halfOpenAfterMs);
      }
    },
  };
}
