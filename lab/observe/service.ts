/**
 * What a running service says about itself over HTTP: its Prometheus metrics (GET /metrics) and the
 * failpoints armed in it with their hit and fire counts (GET /failpoints). For a service process or an
 * in-process service alike (anything with a `url`):
 *
 *   const consumer = observeService(await arena.start('consumer', config));
 *   await consumer.metric('consumer_lag')                               // summed over its labels
 *   await consumer.metric('dlq_total', { error_class: 'VersionGapError' }) // only the matching series
 *   await consumer.metrics()                                            // every sample
 *   await consumer.fired('consumer.apply')                              // 0 when not armed
 *
 * Failpoint counts live in the service's memory: a `crash` failpoint's process is gone before anyone can
 * ask, so crashes are counted from the arena's failpoint log instead (`arena.crashes()`); these counts are
 * for `error` and `sleep` failpoints and for proving a point was reached (`hits`) without firing.
 */
import type { FailpointName, FailpointStats } from '../../src/contract.ts';

/** One sample of the exposition format: `name{label="value",…} value`. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ServiceObserver {
  readonly url: string;
  /**
   * The sum of the samples named exactly `name` whose labels include `labels` (0 when there is none, as
   * for a labelled counter no label set has touched yet). A histogram is read by its series:
   * `…_seconds_count`, `…_seconds_sum`, `…_seconds_bucket` with `{ le: '0.1' }`.
   */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Every sample the service exposes. */
  metrics(): Promise<MetricSample[]>;
  /** The armed failpoints with their counts, as GET /failpoints reports them. */
  failpoints(): Promise<FailpointStats>;
  /** How often failpoint `name` acted (error, sleep); 0 when it is not armed. */
  fired(name: FailpointName): Promise<number>;
  /** How often failpoint `name` was reached while armed (`skip`ped and probability-missed hits included). */
  hits(name: FailpointName): Promise<number>;
}

export function observeService(service: { url: string } | string, options: { timeoutMs?: number } = {}): ServiceObserver {
  const url = typeof service === 'string' ? service : service.url;
  const timeoutMs = options.timeoutMs ?? 5000;
  const get = async (path: string): Promise<string> => {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await response.text();
    if (!response.ok) throw new Error(`GET ${url}${path}: HTTP ${response.status} ${body.slice(0, 200)}`);
    return body;
  };
  const metrics = async () => parsePrometheusText(await get('/metrics'));
  const failpoints = async () => JSON.parse(await get('/failpoints')) as FailpointStats;
  return {
    url,
    metric: async (name, labels = {}) => sumOf(await metrics(), name, labels),
    metrics,
    failpoints,
    fired: async (name) => (await failpoints())[name]?.fired ?? 0,
    hits: async (name) => (await failpoints())[name]?.hits ?? 0,
  };
}

/** The sum of the samples named `name` whose labels include every pair of `labels`. */
export function sumOf(samples: MetricSample[], name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels);
  return samples.filter((s) => s.name === name && wanted.every(([key, value]) => s.labels[key] === value)).reduce((sum, s) => sum + s.value, 0);
}

/**
 * Parses Prometheus's text exposition format (version 0.0.4, what prom-client writes): comments and
 * blank lines skipped, label values unescaped (`\\`, `\"`, `\n`), `NaN`/`+Inf`/`-Inf` understood, an
 * optional timestamp ignored. Hand-written (~30 lines) because no well-kept npm library parses it:
 * - prom-client (what the services use) only writes the format; it has no parser;
 * - parse-prometheus-text-format (the one npm parser in use, ~240k downloads a month) last changed in
 *   2019 (a 2020 dependency bump aside), ships no types, returns values as strings and folds a
 *   histogram's `_bucket`/`_sum`/`_count` series into one object, so reading a series by its name (as
 *   the suites do) would need a mapping back as long as this parser;
 * - the rest are exporters and middlewares (write only) or PromQL parsers (a different language).
 * test/unit/service-observer.test.ts runs it on what a real prom-client registry writes.
 */
export function parsePrometheusText(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) throw new Error(`not a metric line: '${line}'`);
    const name = nameMatch[0];
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      const label = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/;
      rest = rest.slice(1);
      for (let m = label.exec(rest); m; m = label.exec(rest)) {
        labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
        rest = rest.slice(m[0].length);
      }
      if (!rest.trimStart().startsWith('}')) throw new Error(`unterminated labels in '${line}'`);
      rest = rest.trimStart().slice(1);
    }
    const [valueText] = rest.trim().split(/\s+/);
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (valueText === undefined || valueText === '' || (Number.isNaN(value) && valueText !== 'NaN')) throw new Error(`no value in '${line}'`);
    samples.push({ name, labels, value });
  }
  return samples;
}
