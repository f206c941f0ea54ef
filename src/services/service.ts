/** What every service's `start(config)` returns. */
import type { ServiceMetrics } from '../observability/metrics.ts';

export interface RunningService {
  name: string;
  /** Base URL of its HTTP API (every service has /health, /metrics, /failpoints). */
  url: string;
  metrics: ServiceMetrics;
  /** Stops consuming/polling, finishes in-flight work, closes connections. Idempotent. */
  stop(): Promise<void>;
}
