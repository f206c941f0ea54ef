/**
 * Prometheus metrics (prom-client), one registry per service instance so two relays in one process
 * keep separate numbers. Names follow Prometheus conventions (`_total`, `_seconds`).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ServiceMetrics {
  readonly registry = new Registry();

  constructor(readonly service: string, options: { defaultMetrics?: boolean } = {}) {
    this.registry.setDefaultLabels({ service });
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  counter<L extends string = never>(name: string, help: string, labelNames: L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string = never>(name: string, help: string, labelNames: L[] = [], collect?: (this: Gauge<L>) => void | Promise<void>): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry], ...(collect ? { collect } : {}) });
  }

  histogram<L extends string = never>(name: string, help: string, labelNames: L[] = [], buckets = latencyBuckets): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  /** Current value of a counter or gauge (for tests and reports), summed over labels. */
  async value(name: string): Promise<number> {
    const metric = this.registry.getSingleMetric(name);
    if (!metric) throw new Error(`no metric ${name} in ${this.service}`);
    const { values } = await metric.get();
    return values.filter((v) => !('metricName' in v) || !String(v.metricName).endsWith('_bucket')).reduce((sum, v) => sum + v.value, 0);
  }
}

/** Seconds, 1 ms to 30 s. */
export const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
