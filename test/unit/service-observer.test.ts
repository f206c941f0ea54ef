/**
 * lab/observe/service.ts against a fake service (a plain HTTP server on 127.0.0.1, no cluster): the
 * /metrics text comes from a real prom-client registry and /failpoints from the real failpoint registry,
 * so the observer is tested on what the services actually write.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observeService, parsePrometheusText, sumOf } from '../../lab/observe/service.ts';
import { Failpoints } from '../../src/failpoints/failpoints.ts';

const registry = new Registry();
registry.setDefaultLabels({ service: 'consumer' });
const dlq = new Counter({ name: 'dlq_total', help: 'dead letters', labelNames: ['error_class'], registers: [registry] });
const lag = new Gauge({ name: 'consumer_lag', help: 'lag', registers: [registry] });
const latency = new Histogram({ name: 'e2e_latency_seconds', help: 'latency', buckets: [0.1, 1], registers: [registry] });
new Counter({ name: 'untouched_total', help: 'a labelled counter nothing incremented', labelNames: ['reason'], registers: [registry] });
const quoted = new Gauge({ name: 'odd_labels', help: 'escapes', labelNames: ['text'], registers: [registry] });

const failpoints = new Failpoints();
let status = 200;
let server: http.Server;
let url: string;

beforeAll(async () => {
  dlq.inc({ error_class: 'VersionGapError' }, 2);
  dlq.inc({ error_class: 'EnvelopeDecodeError' }, 3);
  lag.set(7);
  latency.observe(0.05);
  latency.observe(0.5);
  latency.observe(5);
  quoted.set({ text: 'say "hi"\nand \\ go' }, 1);
  failpoints.set('consumer.apply', 'error(skip=1)');
  await failpoints.hit('consumer.apply'); // skipped: a hit, not fired
  await failpoints.hit('consumer.apply')?.catch(() => undefined); // fired
  server = http.createServer((request, response) => {
    void (async () => {
      if (status !== 200) return response.writeHead(status).end('broken on purpose');
      if (request.url === '/metrics') return response.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
      if (request.url === '/failpoints') return response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(failpoints.stats()));
      return response.writeHead(404).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('observeService: metrics', () => {
  it('sums a metric over its labels, or over the series whose labels match', async () => {
    const consumer = observeService({ url });
    expect(await consumer.metric('dlq_total')).toBe(5);
    expect(await consumer.metric('dlq_total', { error_class: 'VersionGapError' })).toBe(2);
    expect(await consumer.metric('dlq_total', { error_class: 'VersionGapError', service: 'consumer' })).toBe(2);
    expect(await consumer.metric('dlq_total', { error_class: 'Nothing' })).toBe(0);
    expect(await consumer.metric('consumer_lag')).toBe(7);
  });

  it('reads a histogram by its series, and a name is matched exactly (not as a prefix)', async () => {
    const consumer = observeService(url);
    expect(await consumer.metric('e2e_latency_seconds_count')).toBe(3);
    expect(await consumer.metric('e2e_latency_seconds_bucket', { le: '1' })).toBe(2);
    expect(await consumer.metric('e2e_latency_seconds_bucket', { le: '+Inf' })).toBe(3);
    expect(await consumer.metric('e2e_latency_seconds_sum')).toBeCloseTo(5.55);
    expect(await consumer.metric('e2e_latency_seconds')).toBe(0);
  });

  it('returns every sample, with escaped label values restored', async () => {
    const samples = await observeService(url).metrics();
    expect(samples).toContainEqual({ name: 'consumer_lag', labels: { service: 'consumer' }, value: 7 });
    expect(samples.find((s) => s.name === 'odd_labels')?.labels.text).toBe('say "hi"\nand \\ go');
    expect(samples.some((s) => s.name === 'untouched_total')).toBe(false); // no series yet: metric() gives 0
    expect(await observeService(url).metric('untouched_total')).toBe(0);
  });
});

describe('observeService: failpoints', () => {
  it('reports hits and fires of an armed failpoint, 0 for one not armed', async () => {
    const consumer = observeService(url);
    expect(await consumer.failpoints()).toMatchObject({ 'consumer.apply': { hits: 2, fired: 1, spec: { skip: 1, action: { kind: 'error' } } } });
    expect(await consumer.hits('consumer.apply')).toBe(2);
    expect(await consumer.fired('consumer.apply')).toBe(1);
    expect(await consumer.fired('consumer.before-process')).toBe(0);
  });
});

describe('observeService: a service that does not answer properly', () => {
  it('fails on an HTTP error, naming the status', async () => {
    status = 503;
    try {
      await expect(observeService(url).metric('consumer_lag')).rejects.toThrow(/HTTP 503 broken on purpose/);
      await expect(observeService(url).failpoints()).rejects.toThrow(/HTTP 503/);
    } finally {
      status = 200;
    }
  });

  it('fails when nothing listens (a dead service)', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    await expect(observeService(deadUrl).metric('consumer_lag')).rejects.toThrow();
  });
});

describe('parsePrometheusText', () => {
  it('skips comments and blank lines, reads special values and ignores timestamps', () => {
    const text = ['# HELP x_total help', '# TYPE x_total counter', '', 'x_total 3 1700000000000', 'y{a="1",} NaN', 'z{a="b"} +Inf', 'w -Inf'].join('\n');
    const samples = parsePrometheusText(text);
    expect(samples.map((s) => [s.name, s.value])).toEqual([['x_total', 3], ['y', NaN], ['z', Infinity], ['w', -Infinity]]);
    expect(sumOf(samples, 'x_total')).toBe(3);
  });

  it('reads label values holding the characters that end a label set or a label ({ } , =), and the order of labels does not matter', () => {
    const samples = parsePrometheusText('q{route="/a,b={c}",code="200"} 4\nq{code="500", route="/x\\\\"} 1'); // the value is /x\ escaped
    expect(samples).toEqual([
      { name: 'q', labels: { route: '/a,b={c}', code: '200' }, value: 4 },
      { name: 'q', labels: { code: '500', route: '/x\\' }, value: 1 },
    ]);
    expect(sumOf(samples, 'q', { code: '500' })).toBe(1);
  });

  it('refuses a line it cannot read instead of reading it as 0', () => {
    expect(() => parsePrometheusText('x_total')).toThrow(/no value/);
    expect(() => parsePrometheusText('x_total{a="1" 3')).toThrow(/unterminated labels/);
    expect(() => parsePrometheusText('x_total three')).toThrow(/no value/);
    expect(() => parsePrometheusText('{a="1"} 3')).toThrow(/not a metric line/);
  });
});
