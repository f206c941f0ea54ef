/**
 * Renders a run's results as reports/<run>/report.json and a self-contained report.html: a summary
 * table of every arm, then per experiment one section per arm with its timeline chart (throughput and
 * latency over time, fault windows shaded), its fault windows and its numbers.
 *
 * The HTML has no script and loads nothing (a Content-Security-Policy forbids it): it is opened from
 * disk, attached to CI runs and read offline. For the same reason the charts are inline SVG generated
 * here rather than a charting library: the ones worth having (Vega, Chart.js, uPlot) draw with
 * JavaScript at view time, which would mean inlining 50–400 kB of script per report for two line
 * charts. All text is escaped (`esc`); suites put arbitrary strings (error messages, keys) in results.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readResults, type ArmResult, type TimelinePoint } from './results.ts';

export interface VitestSummary {
  passed: number;
  failed: number;
  skipped?: number;
  durationMs: number;
  /** Test files of the run, relative to the repository. */
  files: string[];
  /** 'passed' | 'failed' | 'interrupted' (Vitest's TestRunEndReason). */
  reason?: string;
  unhandledErrors?: string[];
}

export interface ReportMeta {
  runId: string;
  startedAt: string;
  finishedAt: string;
  provider?: string;
  vitest: VitestSummary;
}

export interface TestOutcome {
  file: string;
  name: string;
  state: 'passed' | 'failed' | 'skipped' | 'pending';
  durationMs?: number;
  errors?: string[];
}

export interface RunReport {
  meta: ReportMeta;
  results: ArmResult[];
  tests: TestOutcome[];
}

type Fault = NonNullable<ArmResult['faults']>[number];

/** Writes report.json and report.html into `runDir`; results default to the files under runDir/results. */
export function writeReport(runDir: string, report: { meta: ReportMeta; tests?: TestOutcome[]; results?: ArmResult[] }): { json: string; html: string } {
  const full: RunReport = { meta: report.meta, results: report.results ?? readResults(runDir), tests: report.tests ?? [] };
  fs.mkdirSync(runDir, { recursive: true });
  const json = path.join(runDir, 'report.json');
  const html = path.join(runDir, 'report.html');
  fs.writeFileSync(json, JSON.stringify(full, null, 2) + '\n');
  fs.writeFileSync(html, renderReport(full.results, full.meta, full.tests));
  return { json, html };
}

export function renderReport(results: ArmResult[], meta: ReportMeta, tests: TestOutcome[] = []): string {
  const ids = new ArmIds();
  const experiments = groupByExperiment(results);
  const armIds = new Map<ArmResult, string>(results.map((r) => [r, ids.of(r)]));
  const holding = results.filter((r) => r.holds).length;
  const failedTests = tests.filter((t) => t.state === 'failed');
  const healthy = holding === results.length && meta.vitest.failed === 0 && !(meta.vitest.unhandledErrors?.length);

  const body = [
    `<header>`,
    `<h1>Reliability Lab — run ${esc(meta.runId)}</h1>`,
    `<p class="meta">${esc(formatDate(meta.startedAt))} → ${esc(formatDate(meta.finishedAt))} · ${esc(formatDuration(meta.vitest.durationMs))}` +
      (meta.provider ? ` · provider <b>${esc(meta.provider)}</b>` : '') +
      ` · ${meta.vitest.files.length} file${meta.vitest.files.length === 1 ? '' : 's'}</p>`,
    `<p class="status ${healthy ? 'good' : 'bad'}">` +
      `${results.length ? `${holding} of ${results.length} arm${results.length === 1 ? '' : 's'} as expected` : 'no arms recorded'}` +
      ` · tests: ${meta.vitest.passed} passed, ${meta.vitest.failed} failed${meta.vitest.skipped ? `, ${meta.vitest.skipped} skipped` : ''}` +
      (meta.vitest.reason && meta.vitest.reason !== 'passed' && meta.vitest.reason !== 'failed'
        ? ` · ${meta.vitest.reason === 'interrupted' ? 'run interrupted: the report shows what finished' : esc(meta.vitest.reason)}`
        : '') +
      `</p>`,
    `</header>`,
    `<h2>Summary</h2>`,
    summaryTable(results, armIds),
    ...experiments.map(([experiment, arms]) => experimentSection(experiment, arms, armIds)),
    testsSection(tests, failedTests, meta.vitest.unhandledErrors ?? []),
  ].join('\n');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<link rel="icon" href="data:,">
<title>${esc(`Reliability Lab — run ${meta.runId}`)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------------------
// Sections

function summaryTable(results: ArmResult[], armIds: Map<ArmResult, string>): string {
  if (results.length === 0) return `<p class="empty">None recorded: no suite of this run called <code>recordArm()</code>.</p>`;
  const rows = sortResults(results).map((r) => {
    return `<tr class="${r.holds ? '' : 'not-holding'}">` +
      `<td class="nowrap"><a href="#${esc(armIds.get(r)!)}">${esc(r.experiment)}</a></td>` +
      `<td>${esc(r.title)}</td>` +
      `<td class="nowrap">${esc(r.arm)}</td>` +
      `<td class="text">${esc(r.expected)}</td>` +
      `<td class="text">${esc(r.observed)}</td>` +
      `<td class="nowrap">${holdsBadge(r.holds)}</td>` +
      `<td class="numbers">${keyNumbers(r.numbers)}</td>` +
      `</tr>`;
  });
  return `<table class="summary">
<thead><tr><th>experiment</th><th>title</th><th>arm</th><th>expected</th><th>observed</th><th>holds</th><th>key numbers</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

function experimentSection(experiment: string, arms: ArmResult[], armIds: Map<ArmResult, string>): string {
  const title = arms[0]?.title ?? '';
  return `<section class="experiment">
<h2>${esc(experiment)}${title ? ` — ${esc(title)}` : ''}</h2>
${arms.map((arm) => armSection(arm, armIds.get(arm)!)).join('\n')}
</section>`;
}

function armSection(arm: ArmResult, id: string): string {
  const facts: string[] = [];
  if (arm.seed !== undefined) facts.push(`seed ${esc(String(arm.seed))}`);
  if (arm.recordedAt) facts.push(`recorded ${esc(formatDate(arm.recordedAt))}`);
  if (arm.historyFile) facts.push(`history <a href="${esc(relativeHref(arm.historyFile))}">${esc(arm.historyFile)}</a>`);
  if (!arm.holds && arm.replay) facts.push(`replay <code>${esc(arm.replay)}</code>`);
  return `<article class="arm ${arm.holds ? '' : 'not-holding'}" id="${esc(id)}">
<h3>${esc(arm.arm)} ${holdsBadge(arm.holds)}</h3>
<dl class="outcome"><dt>expected</dt><dd>${esc(arm.expected)}</dd><dt>observed</dt><dd>${esc(arm.observed)}</dd></dl>
${facts.length ? `<p class="facts">${facts.join(' · ')}</p>` : ''}
<div class="arm-body">
<div class="chart">${timelineChart(arm)}</div>
<div class="side">
${numbersTable(arm.numbers)}
${faultsTable(arm.faults ?? [])}
</div>
</div>
</article>`;
}

function testsSection(tests: TestOutcome[], failed: TestOutcome[], unhandled: string[]): string {
  if (tests.length === 0 && unhandled.length === 0) return '';
  const failures = failed.map((t) =>
    `<li><b>${esc(t.file)}</b> › ${esc(t.name)}${(t.errors ?? []).map((e) => `<pre>${esc(e)}</pre>`).join('')}</li>`);
  const errors = unhandled.map((e) => `<li><b>unhandled error</b><pre>${esc(e)}</pre></li>`);
  const rows = tests.map((t) =>
    `<tr class="${t.state === 'failed' ? 'not-holding' : ''}"><td>${esc(t.file)}</td><td>${esc(t.name)}</td>` +
    `<td class="state-${esc(t.state)}">${esc(t.state)}</td><td class="num">${t.durationMs !== undefined ? esc(formatDuration(t.durationMs)) : ''}</td></tr>`);
  return `<section class="tests">
<h2>Tests</h2>
${failures.length || errors.length ? `<ul class="failures">${[...errors, ...failures].join('\n')}</ul>` : `<p>All ${tests.length} tests passed or were skipped.</p>`}
<details><summary>All ${tests.length} tests</summary>
<table class="tests"><thead><tr><th>file</th><th>test</th><th>state</th><th>duration</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>
</details>
</section>`;
}

function numbersTable(numbers: Record<string, number | string>): string {
  const entries = Object.entries(numbers ?? {});
  if (entries.length === 0) return `<p class="empty">no numbers recorded</p>`;
  return `<table class="kv"><thead><tr><th colspan="2">numbers</th></tr></thead><tbody>
${entries.map(([k, v]) => `<tr><td>${esc(k)}</td><td class="num">${esc(formatValue(v))}</td></tr>`).join('\n')}
</tbody></table>`;
}

function faultsTable(faults: Fault[]): string {
  if (faults.length === 0) return '';
  return `<table class="kv faults"><thead><tr><th>fault</th><th>target</th><th>window (s)</th></tr></thead><tbody>
${faults.map((f) => `<tr><td>${esc(f.fault)}</td><td>${esc(f.target)}</td><td class="num">${esc(seconds(f.start))}–${f.end !== undefined ? esc(seconds(f.end)) : 'open'}</td></tr>`).join('\n')}
</tbody></table>`;
}

function holdsBadge(holds: boolean): string {
  return holds ? `<span class="badge good">✅ as expected</span>` : `<span class="badge bad">❌ NOT as expected</span>`;
}

function keyNumbers(numbers: Record<string, number | string>, max = 6): string {
  const entries = Object.entries(numbers ?? {});
  const shown = entries.slice(0, max).map(([k, v]) => `<span class="kvp"><span class="k">${esc(k)}</span> ${esc(formatValue(v))}</span>`);
  if (entries.length > max) shown.push(`<span class="more">+${entries.length - max} more</span>`);
  return shown.join(' ');
}

// ---------------------------------------------------------------------------------------------------
// Timeline chart: stacked panels sharing one time axis (throughput; latency p50/p99; any other series),
// fault windows shaded across all panels. Separate panels instead of two y-axes: ops/s and ms have
// nothing in common, and one scale per panel keeps each readable.

const WIDTH = 760;
const MARGIN = { left: 58, right: 16, bottom: 30 };
const PANEL = { title: 18, plot: 110, gap: 10 };
const LABEL_ROW = 13;
const COLORS = { throughput: '#2563eb', p50: '#059669', p99: '#d97706', fault: '#dc2626' };
const EXTRA_COLORS = ['#7c3aed', '#db2777', '#0891b2', '#65a30d', '#92400e', '#475569'];

interface Line {
  name: string;
  color: string;
  /** Runs of consecutive points [t, value]; a gap in the data starts a new run. */
  segments: Array<Array<[number, number]>>;
  /** Draw as a filled step chart over buckets (throughput) instead of a line through bucket centres. */
  step?: boolean;
}

interface Panel {
  title: string;
  unit: string;
  lines: Line[];
}

function timelineChart(arm: ArmResult): string {
  const timeline = (arm.timeline ?? []).filter((p) => Number.isFinite(p.t)).sort((a, b) => a.t - b.t);
  const faults = arm.faults ?? [];
  if (timeline.length === 0) {
    return `<p class="empty">no timeline recorded${faults.length ? ` (${faults.length} fault window${faults.length === 1 ? '' : 's'} listed alongside)` : ''}</p>`;
  }
  const bucket = bucketSize(timeline);
  const grid = regularGrid(timeline, bucket);
  const extraKeys = [...new Set(timeline.flatMap((p) => Object.keys(p)))].filter(
    (k) => !['t', 'throughput', 'latencyP50', 'latencyP99'].includes(k) && timeline.some((p) => typeof p[k] === 'number'),
  );

  const panels: Panel[] = [];
  if (timeline.some((p) => p.throughput !== undefined)) {
    panels.push({ title: 'throughput', unit: 'ops/s', lines: [series('throughput', COLORS.throughput, 'throughput', timeline, grid, bucket, true)] });
  }
  const latency = [
    timeline.some((p) => p.latencyP50 !== undefined) ? series('p50', COLORS.p50, 'latencyP50', timeline, grid, bucket) : undefined,
    timeline.some((p) => p.latencyP99 !== undefined) ? series('p99', COLORS.p99, 'latencyP99', timeline, grid, bucket) : undefined,
  ].filter((l): l is Line => l !== undefined);
  if (latency.length) panels.push({ title: 'latency', unit: 'ms', lines: latency });
  if (extraKeys.length) {
    panels.push({ title: 'other series', unit: '', lines: extraKeys.map((k, i) => series(k, EXTRA_COLORS[i % EXTRA_COLORS.length]!, k, timeline, grid, bucket)) });
  }
  if (panels.length === 0) return `<p class="empty">timeline has no numeric series</p>`;

  const lastT = timeline[timeline.length - 1]!.t + bucket;
  const xMax = niceCeil(Math.max(lastT, ...faults.map((f) => Math.max(f.start, f.end ?? 0))));
  const labelRows = Math.min(3, faults.length);
  const top = 6 + labelRows * LABEL_ROW;
  const plotLeft = MARGIN.left;
  const plotRight = WIDTH - MARGIN.right;
  const x = (t: number) => plotLeft + (t / xMax) * (plotRight - plotLeft);
  const panelsHeight = panels.length * (PANEL.title + PANEL.plot) + (panels.length - 1) * PANEL.gap;
  const height = top + panelsHeight + MARGIN.bottom;
  const plotsTop = top + PANEL.title;
  const plotsBottom = top + panelsHeight;

  const parts: string[] = [];
  // Fault windows behind everything, spanning all panels; labels above the first panel.
  faults.forEach((f, i) => {
    const x0 = x(Math.max(0, f.start));
    const x1 = x(Math.min(xMax, f.end ?? xMax));
    const w = Math.max(2, x1 - x0);
    const label = `${f.fault} ${f.target}${f.end === undefined ? ' (open)' : ''}`;
    const tip = `${f.fault} on ${f.target}: ${seconds(f.start)} s – ${f.end !== undefined ? `${seconds(f.end)} s` : 'not ended'}`;
    const row = i % Math.max(1, labelRows);
    const ly = 6 + row * LABEL_ROW + 9;
    const anchorEnd = x0 > plotRight - 160;
    parts.push(`<g class="fault"><title>${esc(tip)}</title>` +
      `<rect x="${r(x0)}" y="${r(plotsTop)}" width="${r(w)}" height="${r(plotsBottom - plotsTop)}" fill="${COLORS.fault}" fill-opacity="0.11"/>` +
      `<line x1="${r(x0)}" x2="${r(x0)}" y1="${r(ly - 9)}" y2="${r(plotsBottom)}" stroke="${COLORS.fault}" stroke-opacity="0.5" stroke-dasharray="3 2"/>` +
      `<text x="${r(anchorEnd ? x0 - 3 : x0 + 3)}" y="${r(ly)}" class="fault-label"${anchorEnd ? ' text-anchor="end"' : ''}>${esc(truncate(label, 40))}</text></g>`);
  });

  const xTicks = ticks(xMax, 8);
  panels.forEach((panel, i) => {
    const pTop = top + i * (PANEL.title + PANEL.plot + PANEL.gap) + PANEL.title;
    const pBottom = pTop + PANEL.plot;
    const values = panel.lines.flatMap((l) => l.segments.flat().map(([, v]) => v));
    const yMax = niceCeil(Math.max(0, ...values.filter(Number.isFinite)));
    const y = (v: number) => pBottom - (v / yMax) * PANEL.plot;
    // Title and legend.
    const legend = panel.lines.length > 1 || panel.lines[0]?.name !== panel.title
      ? panel.lines.map((l) => `<tspan fill="${l.color}" font-weight="700">━</tspan> ${esc(l.name)}`).join('  ')
      : '';
    parts.push(`<text x="${plotLeft}" y="${pTop - 6}" class="panel-title">${esc(panel.title)}${panel.unit ? ` (${esc(panel.unit)})` : ''}${legend ? `   ${legend}` : ''}</text>`);
    // Grid and axes.
    for (const v of ticks(yMax, 4)) {
      parts.push(`<line x1="${plotLeft}" x2="${plotRight}" y1="${r(y(v))}" y2="${r(y(v))}" class="grid"/>` +
        `<text x="${plotLeft - 6}" y="${r(y(v) + 3.5)}" class="tick" text-anchor="end">${esc(formatTick(v))}</text>`);
    }
    for (const t of xTicks) parts.push(`<line x1="${r(x(t))}" x2="${r(x(t))}" y1="${pTop}" y2="${pBottom}" class="grid"/>`);
    parts.push(`<rect x="${plotLeft}" y="${pTop}" width="${plotRight - plotLeft}" height="${PANEL.plot}" class="frame"/>`);
    // Data.
    for (const line of panel.lines) parts.push(drawLine(line, x, y, pBottom, bucket));
  });
  for (const t of xTicks) {
    parts.push(`<text x="${r(x(t))}" y="${plotsBottom + 14}" class="tick" text-anchor="middle">${esc(formatTick(t / 1000))}</text>`);
  }
  parts.push(`<text x="${plotRight}" y="${plotsBottom + 27}" class="tick" text-anchor="end">time since the arm started (s)</text>`);

  const aria = `${arm.experiment} ${arm.arm}: ${panels.map((p) => p.title).join(', ')} over time, ${faults.length} fault window${faults.length === 1 ? '' : 's'}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${r(height)}" width="${WIDTH}" height="${r(height)}" role="img" aria-label="${esc(aria)}">${parts.join('')}</svg>`;
}

function series(name: string, color: string, key: string, timeline: TimelinePoint[], grid: number[] | undefined, bucket: number, step = false): Line {
  const byT = new Map(timeline.map((p) => [p.t, p]));
  const segments: Array<Array<[number, number]>> = [];
  let current: Array<[number, number]> = [];
  const flush = () => {
    if (current.length) segments.push(current);
    current = [];
  };
  if (grid) {
    for (const t of grid) {
      const v = byT.get(t)?.[key];
      // A bucket without completed operations had zero throughput (an outage must show as a drop, not
      // be bridged by a line); it has no latency, so latency lines break there instead.
      if (typeof v === 'number' && Number.isFinite(v)) current.push([t, v]);
      else if (step) current.push([t, 0]);
      else flush();
    }
  } else {
    for (const p of timeline) {
      const v = p[key];
      if (typeof v === 'number' && Number.isFinite(v)) current.push([p.t, v]);
      else flush();
    }
  }
  flush();
  return { name, color, segments, step };
}

function drawLine(line: Line, x: (t: number) => number, y: (v: number) => number, baseline: number, bucket: number): string {
  const out: string[] = [];
  for (const segment of line.segments) {
    if (line.step) {
      let d = '';
      for (const [t, v] of segment) d += `${d ? 'L' : 'M'}${r(x(t))},${r(y(v))}H${r(x(t + bucket))}`;
      const first = segment[0]!;
      out.push(`<path d="${d}V${r(baseline)}H${r(x(first[0]))}Z" fill="${line.color}" fill-opacity="0.12" stroke="none"/>`);
      out.push(`<path d="${d}" fill="none" stroke="${line.color}" stroke-width="1.6"/>`);
    } else {
      const pts = segment.map(([t, v]) => `${r(x(t + bucket / 2))},${r(y(v))}`);
      if (segment.length > 1) out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${line.color}" stroke-width="1.6" stroke-linejoin="round"/>`);
      if (segment.length === 1 || segment.length <= 40) {
        for (const [t, v] of segment) {
          out.push(`<circle cx="${r(x(t + bucket / 2))}" cy="${r(y(v))}" r="2" fill="${line.color}"><title>${esc(`${line.name} ${formatValue(v)} at ${seconds(t)} s`)}</title></circle>`);
        }
      }
    }
  }
  return out.join('');
}

/** The timeline's bucket width: the smallest gap between points (timelineOf uses 1 s). */
function bucketSize(timeline: TimelinePoint[]): number {
  let min = Infinity;
  for (let i = 1; i < timeline.length; i++) {
    const d = timeline[i]!.t - timeline[i - 1]!.t;
    if (d > 0 && d < min) min = d;
  }
  return Number.isFinite(min) ? min : 1000;
}

/** Every bucket start from 0 to the last point when the points sit on a regular grid, else undefined. */
function regularGrid(timeline: TimelinePoint[], bucket: number): number[] | undefined {
  const last = timeline[timeline.length - 1]!.t;
  if (last / bucket > 5000 || timeline.some((p) => p.t < 0 || Math.abs(p.t / bucket - Math.round(p.t / bucket)) > 1e-6)) return undefined;
  const grid: number[] = [];
  for (let i = 0; i * bucket <= last + 1e-9; i++) grid.push(timeline.find((p) => Math.abs(p.t - i * bucket) < 1e-6)?.t ?? i * bucket);
  return grid;
}

function ticks(max: number, count: number): number[] {
  const step = niceStep(max / count);
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * power;
}

function niceCeil(value: number): number {
  if (!(value > 0)) return 1;
  const step = niceStep(value / 5);
  return Math.ceil(value / step - 1e-9) * step;
}

// ---------------------------------------------------------------------------------------------------
// Helpers

/** Escapes text for HTML text and attribute positions (and SVG, which is parsed as HTML here). */
export function esc(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function groupByExperiment(results: ArmResult[]): Array<[string, ArmResult[]]> {
  const groups = new Map<string, ArmResult[]>();
  for (const result of sortResults(results)) groups.set(result.experiment, [...(groups.get(result.experiment) ?? []), result]);
  return [...groups.entries()];
}

/** By experiment (E-2 before E-10), keeping the recorded order of arms within one. */
function sortResults(results: ArmResult[]): ArmResult[] {
  return results
    .map((result, index) => ({ result, index }))
    .sort((a, b) => a.result.experiment.localeCompare(b.result.experiment, 'en', { numeric: true }) || a.index - b.index)
    .map(({ result }) => result);
}

class ArmIds {
  private readonly used = new Set<string>();
  of(result: ArmResult): string {
    const base = 'arm-' + `${result.experiment}-${result.arm}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    let id = base;
    for (let n = 2; this.used.has(id); n++) id = `${base}-${n}`;
    this.used.add(id);
    return id;
  }
}

/** A relative link to a file of the run directory; each segment encoded, so no scheme can sneak in. */
function relativeHref(file: string): string {
  return file.split(/[\\/]+/).filter((s) => s && s !== '.' && s !== '..').map(encodeURIComponent).join('/');
}

function formatValue(value: number | string): string {
  if (typeof value !== 'number') return String(value);
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const digits = Number.isInteger(value) ? 0 : abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

function formatTick(value: number): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
}

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms - m * 60_000) / 1000)} s`;
}

function formatDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function r(n: number): string {
  return String(Math.round(n * 10) / 10);
}

const STYLE = `
:root { color-scheme: light; --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bad: #b91c1c; --bad-bg: #fef2f2; --good: #047857; --good-bg: #ecfdf5; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); margin: 0 auto; padding: 24px 28px 60px; max-width: 1320px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 0 0 6px; display: flex; gap: 10px; align-items: center; }
a { color: #1d4ed8; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12px; }
pre { white-space: pre-wrap; word-break: break-word; background: #f9fafb; border: 1px solid var(--line); padding: 6px 8px; margin: 4px 0 8px; }
.meta { color: var(--muted); margin: 0 0 8px; }
.status { display: inline-block; margin: 0; padding: 6px 12px; border-radius: 6px; font-weight: 600; }
.status.good { background: var(--good-bg); color: var(--good); }
.status.bad { background: var(--bad-bg); color: var(--bad); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); background: #f9fafb; }
td.text { white-space: pre-wrap; word-break: break-word; }
td.nowrap { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.not-holding td { background: var(--bad-bg); }
.badge { font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 10px; white-space: nowrap; }
.badge.good { background: var(--good-bg); color: var(--good); }
.badge.bad { background: #fee2e2; color: var(--bad); }
.numbers { font-size: 12px; }
.kvp { display: inline-block; margin: 0 8px 2px 0; white-space: nowrap; font-variant-numeric: tabular-nums; }
.kvp .k, .more { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
.experiment { margin-top: 8px; }
.arm { border: 1px solid var(--line); border-left: 4px solid var(--good); border-radius: 6px; padding: 12px 14px; margin: 12px 0; }
.arm.not-holding { border-left-color: var(--bad); }
.outcome { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 6px; }
.outcome dt { color: var(--muted); }
.outcome dd { margin: 0; white-space: pre-wrap; word-break: break-word; }
.facts { color: var(--muted); font-size: 12px; margin: 0 0 8px; }
.arm-body { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.chart { flex: 0 1 760px; min-width: 0; }
.chart svg { max-width: 100%; height: auto; display: block; }
.side { flex: 1 1 260px; min-width: 240px; }
.side table { margin-bottom: 10px; font-size: 13px; }
svg text { font-family: system-ui, "DejaVu Sans", sans-serif; }
svg .tick { font-size: 10px; fill: #6b7280; }
svg .panel-title { font-size: 11px; font-weight: 600; fill: #374151; }
svg .fault-label { font-size: 10px; fill: #b91c1c; }
svg .grid { stroke: #eef0f3; stroke-width: 1; }
svg .frame { fill: none; stroke: #d1d5db; }
.failures { padding-left: 18px; }
.failures li { margin-bottom: 8px; }
details { margin-top: 10px; }
summary { cursor: pointer; color: var(--muted); }
.state-failed { color: var(--bad); font-weight: 600; }
.state-passed { color: var(--good); }
.state-skipped, .state-pending { color: var(--muted); }
`;
