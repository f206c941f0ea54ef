import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { History } from '../../lab/history/history.ts';
import type { ReportMeta, RunReport } from '../../lab/report/model.ts';
import { renderReport, writeReport } from '../../lab/report/render.ts';
import { recordArm, type ArmResult } from '../../lab/report/results.ts';
import { sampleMeta, sampleResults, sampleTests } from '../../lab/report/sample.ts';
import { externalLoads } from '../../lab/report/screenshot.ts';

const meta: ReportMeta = sampleMeta();

/** The <article> of one arm, by the id the renderer gives it. */
function article(html: string, id: string): string {
  const start = html.indexOf(`<article class="arm`, html.indexOf(`id="${id}"`) - 80);
  expect(start, `article ${id}`).toBeGreaterThanOrEqual(0);
  return html.slice(start, html.indexOf('</article>', start));
}

describe('renderReport', () => {
  const results = sampleResults();
  const html = renderReport(results, meta, sampleTests());

  it('lists every arm in the summary, with expected, observed, holds and key numbers', () => {
    const summary = html.slice(html.indexOf('<table class="summary">'), html.indexOf('</table>'));
    expect(summary.match(/<tr class=/g)).toHaveLength(results.length);
    expect(summary).toContain('lost &gt; 0, lost = crashes');
    expect(summary).toContain('<span class="k">crashes</span> 3');
    expect(summary).toContain('<span class="k">deposits</span> 1,200');
    // E-002 < E-003 < E-010 (numeric order), arms in recorded order within one experiment.
    const order = [...summary.matchAll(/href="#(arm-[^"]+)"/g)].map((m) => m[1]);
    expect(order).toEqual(['arm-e-002-direct', 'arm-e-002-outbox', 'arm-e-003-retry-topic', 'arm-e-010-acks-1']);
  });

  it('marks an arm that did not behave as the catalog says', () => {
    const failing = article(html, 'arm-e-002-outbox');
    expect(failing).toContain('class="arm not-holding"');
    expect(failing).toContain('❌ NOT as expected');
    expect(article(html, 'arm-e-002-direct')).toContain('✅ as expected');
    expect(html).toContain('3 of 4 arms as expected');
    expect(html).toContain('class="status bad"');
  });

  it('escapes text from results: no markup of theirs reaches the page', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('lost 2 &lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt; &amp; relay stuck on &quot;offset 17&quot;');
    const hostile: ArmResult = {
      experiment: 'E-9<b>',
      title: '</title><script>x()</script>',
      arm: '"><img src=x onerror=alert(1)>',
      expected: 'e',
      observed: 'o',
      holds: true,
      numbers: { '<i>key</i>': '<u>value</u>' },
      timeline: [{ t: 0, throughput: 1 }],
      faults: [{ fault: '<svg onload=alert(1)>', target: "t'<", start: 0, end: 500 }],
      historyFile: 'javascript:alert(1)',
    };
    const page = renderReport([hostile], { ...meta, runId: '<run>' }, [{ file: 'f<', name: '<n>', state: 'failed', errors: ['<script>e</script>'] }]);
    expect(page).not.toMatch(/<script|<img|<i>|<u>|<svg onload|<run>|<n>|<\/title><script/i);
    expect(page).toContain('E-9&lt;b&gt;');
    expect(page).toContain('&lt;svg onload=alert(1)&gt;');
    expect(page).not.toContain('href="javascript:');
    expect(page).toContain('href="javascript%3Aalert(1)"');
  });

  it('shows the tables an arm laid out, escaped, line breaks kept', () => {
    const arm: ArmResult = { experiment: 'E-006', title: 't', arm: 'a', expected: 'e', observed: 'o', holds: true, numbers: {},
      tables: [{ title: 'change × mode', columns: ['change', 'BACKWARD'], rows: [['<add>', '❌ DLQ 1\nregistry ✓']] }] };
    const page = renderReport([arm], meta, []);
    const table = page.slice(page.indexOf('<table class="matrix">'), page.indexOf('</table>', page.indexOf('<table class="matrix">')));
    expect(table).toContain('<caption>change × mode</caption>');
    expect(table).toContain('<th>change</th><th>BACKWARD</th>');
    expect(table).toContain('<td>&lt;add&gt;</td><td>❌ DLQ 1<br>registry ✓</td>');
  });

  it('draws each arm’s timeline with its fault windows shaded and labelled', () => {
    const direct = article(html, 'arm-e-002-direct');
    const svg = direct.slice(direct.indexOf('<svg'), direct.indexOf('</svg>'));
    expect(svg.match(/<g class="fault">/g)).toHaveLength(2);
    expect(svg).toContain('>kill wallet-api-1</text>');
    expect(svg).toContain('>restart wallet-api-1</text>');
    expect(svg).toMatch(/<rect [^>]*fill="#dc2626" fill-opacity="0.11"/);
    expect(svg).toContain('throughput (ops/s)');
    expect(svg).toContain('latency (ms)');
    // The outage (3 s without completed operations) is drawn as zero throughput, not bridged: one
    // step per second from 0 to 19 s, 20 in all, although only 17 seconds have points.
    const step = svg.match(/<path d="([^"]+)" fill="none" stroke="#2563eb"/)![1]!;
    expect(step.match(/[ML]/g)).toHaveLength(20);
    // and the latency lines break there: two runs each for p50 and p99.
    expect(svg.match(/<polyline [^>]*stroke="#059669"/g)).toHaveLength(2);
    expect(direct).toContain('href="histories/e-002-direct.jsonl"');
  });

  it('shades an open fault to the end of the chart and draws extra series in their own panel', () => {
    const retry = article(html, 'arm-e-003-retry-topic');
    expect(retry).toContain('>poison messages payments.v1 (open)</text>');
    expect(retry).toContain('other series');
    expect(retry).toContain('consumerLag');
    expect(retry).toContain('10.0–open');
  });

  it('handles an arm without timeline', () => {
    const acks = article(html, 'arm-e-010-acks-1');
    expect(acks).toContain('no timeline recorded');
    expect(acks).not.toContain('<svg');
    expect(acks).toContain('<td>unclean leader elections</td><td class="num">0</td>');
  });

  it('says so when no results were recorded', () => {
    const empty = renderReport([], { ...meta, vitest: { passed: 1, failed: 0, durationMs: 1200, files: ['lab/e-000-smoke.test.ts'] } }, [
      { file: 'lab/e-000-smoke.test.ts', name: 'smoke', state: 'passed', durationMs: 1100 },
    ]);
    expect(empty).toContain('None recorded');
    expect(empty).toContain('no arms recorded');
    expect(empty).toContain('class="status good"');
    expect(empty).not.toContain('<svg');
    expect(empty).toContain('All 1 tests passed or were skipped.');
  });

  it('says when the run was interrupted', () => {
    const page = renderReport(sampleResults(), { ...meta, vitest: { ...meta.vitest, reason: 'interrupted' } });
    expect(page).toContain('run interrupted: the report shows what finished');
    expect(html).not.toContain('interrupted');
  });

  it('lists failed tests with their errors', () => {
    expect(html).toContain('E-002 &gt; ✅ outbox: no event is lost');
    expect(html).toContain('- Expected: 0\n+ Received: 2');
  });

  it('is self-contained: loads nothing, runs no script', () => {
    expect(externalLoads(html)).toEqual([]);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
    expect(externalLoads('<img src="https://cdn.example/x.png"><link href="//cdn/x.css"><style>@import "x.css"</style>')).toHaveLength(3);
  });

  it('renders the same input to the same page', () => {
    expect(renderReport(sampleResults(), meta, sampleTests())).toBe(html);
  });
});

describe('writeReport', () => {
  const dirs: string[] = [];
  const savedRunDir = process.env.LAB_RUN_DIR;
  afterEach(() => {
    if (savedRunDir === undefined) delete process.env.LAB_RUN_DIR;
    else process.env.LAB_RUN_DIR = savedRunDir;
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('renders what suites recorded with recordArm, history and timeline included', () => {
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-'));
    dirs.push(runDir);
    process.env.LAB_RUN_DIR = runDir;
    const history = new History('e-099/direct');
    const fault = history.faultStart('kill', 'relay-1');
    history.invoke('client-1', 'deposit', { amount: 5 }).ok({ id: 1 });
    history.faultEnd(fault);
    recordArm({ experiment: 'E-099', title: 'Test arm', arm: '❌ direct', expected: 'lost > 0', observed: 'lost 1', holds: true, numbers: { lost: 1 }, history });

    const { json, html } = writeReport(runDir, { meta, tests: sampleTests() });
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as RunReport;
    expect(report.meta.runId).toBe(meta.runId);
    expect(report.tests).toHaveLength(sampleTests().length);
    expect(report.results).toHaveLength(1);
    const [arm] = report.results;
    expect(arm!.historyFile).toBe(path.join('histories', 'e-099-direct.jsonl'));
    expect(fs.existsSync(path.join(runDir, arm!.historyFile!))).toBe(true);
    expect(arm!.timeline).toHaveLength(1);
    expect(arm!.faults).toMatchObject([{ fault: 'kill', target: 'relay-1' }]);

    const page = fs.readFileSync(html, 'utf8');
    expect(page).toContain('href="histories/e-099-direct.jsonl"');
    expect(page).toContain('>kill relay-1</text>');
  });

  it('writes an empty report for a run without results', () => {
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-'));
    dirs.push(runDir);
    const { json, html } = writeReport(runDir, { meta });
    expect(JSON.parse(fs.readFileSync(json, 'utf8'))).toMatchObject({ results: [], tests: [] });
    expect(fs.readFileSync(html, 'utf8')).toContain('None recorded');
  });
});
