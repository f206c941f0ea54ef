/**
 * What the running Prometheus and Alertmanager say, read over their HTTP APIs (an outside observer: it
 * shares nothing with the code under test).
 *
 *   const alerts = new AlertWatch(env.descriptor.observability!);
 *   await alerts.firing('OutboxOldestRowStale')                   // active alerts of that name
 *   await alerts.until('fires', 'PartitionsUnderMinIsr', 120_000)  // resolves with the alert once it does
 *   await alerts.until('resolves', 'PartitionsUnderMinIsr', 120_000)
 *   await alerts.query('up{job="services"}')                      // Prometheus instant vector
 *
 * Alertmanager's GET /api/v2/alerts lists the alerts Prometheus sent that have not ended: a resolved
 * alert (endsAt in the past) is not listed, so "resolved" is "no longer listed".
 */
import { waitFor } from '../infra/ports.ts';

export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: 'active' | 'suppressed' | 'unprocessed' };
}

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export class AlertWatch {
  constructor(private readonly urls: { prometheusUrl: string; alertmanagerUrl: string }) {}

  /** Active alerts named `name` whose labels include `labels`. */
  async firing(name: string, labels: Record<string, string> = {}): Promise<Alert[]> {
    const response = await fetch(`${this.urls.alertmanagerUrl}/api/v2/alerts?active=true&silenced=false&inhibited=false`);
    if (!response.ok) throw new Error(`Alertmanager answered ${response.status}`);
    const alerts = (await response.json()) as Alert[];
    return alerts.filter((alert) => alert.labels.alertname === name && Object.entries(labels).every(([key, value]) => alert.labels[key] === value));
  }

  /** Waits until the alert is listed ('fires') or no longer listed ('resolves'); the alert when it fired. */
  async until(what: 'fires' | 'resolves', name: string, timeoutMs: number, labels: Record<string, string> = {}): Promise<Alert | undefined> {
    let found: Alert[] = [];
    await waitFor(`${name} ${JSON.stringify(labels)} ${what === 'fires' ? 'to fire' : 'to resolve'} in the Alertmanager`, async () => {
      found = await this.firing(name, labels);
      return what === 'fires' ? found.length > 0 : found.length === 0;
    }, { timeoutMs, intervalMs: 1000 });
    return found[0];
  }

  /** A PromQL instant query. */
  async query(expr: string): Promise<Sample[]> {
    const response = await fetch(`${this.urls.prometheusUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    const body = (await response.json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    if (body.status !== 'success') throw new Error(`Prometheus query ${expr} failed: ${body.error}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }
}
