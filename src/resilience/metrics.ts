/** A dependency guard's metrics: breaker state (0 closed, 1 open, 0.5 half-open) and the calls it failed fast or timed out. */
import type { ServiceMetrics } from '../observability/metrics.ts';
import type { BreakerState, GuardHooks } from './guard.ts';

const stateValue: Record<BreakerState, number> = { closed: 0, 'half-open': 0.5, open: 1 };

export function guardMetrics(metrics: ServiceMetrics, dependency: string): GuardHooks {
  const state = metrics.gauge('dependency_breaker_state', 'Circuit breaker of a dependency: 0 closed, 0.5 half-open, 1 open', ['dependency']);
  const unavailable = metrics.counter('dependency_unavailable_total', 'Calls to a dependency that timed out or found its breaker open', ['dependency', 'reason']);
  state.set({ dependency }, 0);
  return {
    onStateChange: (s) => state.set({ dependency }, stateValue[s]),
    onUnavailable: (reason) => unavailable.inc({ dependency, reason }),
  };
}
