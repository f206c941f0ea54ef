/**
 * Prometheus's view of one experiment case, put into its history so the run report draws it under the
 * case's fault windows (ArmResult.sampled, one panel per series): the outbox backlog of the arena's
 * database, its consumer groups' lag from the LSO, the records on its DLQ topics, and the cache hit
 * ratio. Read from the cluster's own Prometheus (lab/observability/stack.ts), which scrapes the lab
 * exporter: the same outside observer as the dashboards and alerts, not the services' own counters.
 *
 *   await sampleCaseMetrics(history, { prefix: arena.id, startedAt });   // after the case, before disposal
 *
 * A cluster without Prometheus (external) or a query that fails adds nothing: the report is the richer
 * for it, never the reason an arm fails. Series that stayed at zero are left out.
 */
import type { History } from '../history/history.ts';
import { readDescriptor } from '../infra/local/cluster.ts';

/** The panels, as PromQL over one arena's names (databases, groups and topics all start with its id). */
export function caseQueries(prefix: string): Array<{ series: string; value: string; query: string }> {
  const re = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&');
  return [
    { series: 'Prometheus: outbox backlog (unpublished rows)', value: 'rows', query: `sum(lab_outbox_backlog{database=~"${re}.*"})` },
    { series: 'Prometheus: consumer lag from the LSO', value: 'records', query: `sum(lab_consumergroup_lag{group=~"${re}.*"})` },
    { series: 'Prometheus: records on the DLQ topics', value: 'records', query: `sum(lab_topic_end_offset{topic=~"${re}.*\\\\.dlq"})` },
    { series: 'Prometheus: cache hit ratio (all query-services)', value: 'ratio', query: 'lab:cache_hit_ratio:rate1m' },
  ];
}

export async function sampleCaseMetrics(history: History, options: { prefix: string; startedAt: number; prometheusUrl?: string; timeoutMs?: number }): Promise<number> {
  const url = options.prometheusUrl ?? readDescriptor()?.observability?.prometheusUrl;
  if (!url || !options.prefix) return 0;
  const end = Date.now() / 1000;
  const start = options.startedAt / 1000;
  // History times are ms since the history started; samples are placed on that axis.
  const historyZero = Date.now() - history.now();
  let added = 0;
  await Promise.all(caseQueries(options.prefix).map(async ({ series, value, query }) => {
    try {
      const params = new URLSearchParams({ query, start: String(start), end: String(end), step: '1' });
      const response = await fetch(`${url}/api/v1/query_range?${params}`, { signal: AbortSignal.timeout(options.timeoutMs ?? 3000) });
      if (!response.ok) return;
      const body = (await response.json()) as { data?: { result?: Array<{ values: Array<[number, string]> }> } };
      const points = (body.data?.result?.[0]?.values ?? []).map(([t, v]) => [t * 1000 - historyZero, Number(v)] as const).filter(([t, v]) => t >= 0 && Number.isFinite(v));
      if (!points.some(([, v]) => v !== 0)) return;
      for (const [t, v] of points) history.sample(series, { [value]: v }, t);
      added += 1;
    } catch {
      // Prometheus slow or away: the report goes without this panel.
    }
  }));
  return added;
}
