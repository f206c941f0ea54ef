/** What every service's `start(config)` returns. */
import type { ServiceMetrics } from '../observability/metrics.ts';

export interface RunningService {
  name: string;
  /** Base URL of its HTTP API (every service has /health, /metrics, /failpoints). */
  url: string;
  metrics: ServiceMetrics;
  /** Stops consuming/polling, finishes in-flight work, closes connections. Idempotent. */
  stop(): Promise<void>;
  /**
   * Resolves (never rejects) when the service has failed for good and no longer does its job, e.g. a
   * Kafka consumer that crashed without restarting. The process entry (main.ts) then exits non-zero;
   * an in-process owner must stop the service itself. Absent: the service has no such failure.
   */
  failed?: Promise<Error>;
}
