/**
 * The run report's page: writes reports/<run>/report.json and a self-contained report.html laid out
 * from the report model (model.ts) — a summary table of every arm, then per experiment its question
 * and one section per arm with its named expectations, its timeline chart (chart.ts), its fault
 * windows and its numbers.
 *
 *   writeReport(runDir, { meta, tests });          // results default to the files under runDir/results
 *
 * The HTML has no script and loads nothing (a Content-Security-Policy forbids it): it is opened from
 * disk, attached to CI runs and read offline. All text is escaped (`esc`): suites put arbitrary
 * strings (error messages, keys) in results. Template literals rather than a template engine: the page
 * is a handful of fixed tables, and an engine (or JSX to string) would add a dependency and a build
 * step to save the `esc(…)` calls that the hostile-text unit test already holds to account.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sampledChart, timelineChart } from './chart.ts';
import { esc, formatDate, formatDuration, formatValue, plural, relativeHref, seconds } from './format.ts';
import { reportModel, type ArmModel, type ExperimentModel, type ExpectationRow, type ReportMeta, type ReportModel, type RunReport, type TestOutcome } from './model.ts';
import { readResults, type ArmResult, type ReportTable } from './results.ts';
import { STYLE } from './style.ts';

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
  const model = reportModel(results, meta, tests);
  const body = [
    header(model),
    `<h2>Summary</h2>`,
    summaryTable(model.arms),
    ...model.experiments.map(experimentSection),
    testsSection(model.tests),
  ].join('\n');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<link rel="icon" href="data:,">
<title>${esc(model.title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

function header(model: ReportModel): string {
  const { meta, status } = model;
  return [
    `<header>`,
    `<h1>${esc(model.title)}</h1>`,
    `<p class="meta">${esc(meta.started)} → ${esc(meta.finished)} · ${esc(meta.duration)}` +
      (meta.provider ? ` · provider <b>${esc(meta.provider)}</b>` : '') +
      ` · ${plural(meta.files, 'file')}</p>`,
    `<p class="status ${status.healthy ? 'good' : 'bad'}">${esc(status.text)}</p>`,
    `</header>`,
  ].join('\n');
}

function summaryTable(arms: ArmModel[]): string {
  if (arms.length === 0) return `<p class="empty">None recorded: no suite of this run called <code>recordArm()</code>.</p>`;
  const rows = arms.map(({ anchor, result: r }) =>
    `<tr class="${r.holds ? '' : 'not-holding'}">` +
      `<td class="nowrap"><a href="#${esc(anchor)}">${esc(r.experiment)}</a></td>` +
      `<td>${esc(r.title)}</td>` +
      `<td class="nowrap">${esc(r.arm)}</td>` +
      `<td class="text">${esc(r.expected)}</td>` +
      `<td class="text">${esc(r.observed)}</td>` +
      `<td class="nowrap">${holdsBadge(r.holds)}</td>` +
      `<td class="numbers">${keyNumbers(r.numbers)}</td>` +
      `</tr>`);
  return `<table class="summary">
<thead><tr><th>experiment</th><th>title</th><th>arm</th><th>expected</th><th>observed</th><th>holds</th><th>key numbers</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

function experimentSection(experiment: ExperimentModel): string {
  const declared = (['question', 'setup', 'fault'] as const).filter((key) => experiment[key]);
  return `<section class="experiment">
<h2>${esc(experiment.id)}${experiment.title ? ` — ${esc(experiment.title)}` : ''}</h2>
${declared.length ? `<dl class="declaration">${declared.map((key) => `<dt>${key}</dt><dd>${esc(experiment[key]!)}</dd>`).join('')}</dl>\n` : ''}${experiment.arms.map(armSection).join('\n')}
</section>`;
}

function armSection({ anchor, result: arm, expectations, replay }: ArmModel): string {
  const facts: string[] = [];
  if (arm.seed !== undefined) facts.push(`seed ${esc(String(arm.seed))}`);
  if (arm.recordedAt) facts.push(`recorded ${esc(formatDate(arm.recordedAt))}`);
  if (arm.historyFile) facts.push(`history <a href="${esc(relativeHref(arm.historyFile))}">${esc(arm.historyFile)}</a>`);
  if (replay) facts.push(`replay <code>${esc(replay)}</code>`);
  return `<article class="arm ${arm.holds ? '' : 'not-holding'}" id="${esc(anchor)}">
<h3>${esc(arm.arm)} ${holdsBadge(arm.holds)}</h3>
<dl class="outcome"><dt>expected</dt><dd>${esc(arm.expected)}</dd><dt>observed</dt><dd>${esc(arm.observed)}</dd></dl>
${expectationsTable(expectations)}${(arm.tables ?? []).map(reportTable).join('')}${facts.length ? `<p class="facts">${facts.join(' · ')}</p>` : ''}
<div class="arm-body">
<div class="chart">${arm.sampled?.length && !arm.timeline?.length ? '' : timelineChart(arm)}${sampledChart(arm)}</div>
<div class="side">
${numbersTable(arm.numbers)}
${faultsTable(arm.faults ?? [])}
</div>
</div>
</article>`;
}

/** The arm's named expectations as declared and judged; "sometimes" ones (the fault really fired) marked. */
function expectationsTable(rows: ExpectationRow[]): string {
  if (rows.length === 0) return '';
  return `<table class="expectations"><thead><tr><th>expectation</th><th>kind</th><th>expected</th><th>observed</th><th>holds</th></tr></thead><tbody>
${rows.map((e) => `<tr class="${e.holds ? '' : 'not-holding'}"><td>${esc(e.name)}</td>` +
    `<td class="nowrap">${e.kind === 'sometimes' ? '<span class="kind sometimes">sometimes</span>' : '<span class="kind">always</span>'}</td>` +
    `<td>${esc(e.expected)}</td><td class="text">${esc(e.observed)}</td><td class="nowrap">${e.holds ? '✓' : '✗'}</td></tr>`).join('\n')}
</tbody></table>
`;
}

/** A table the arm's cases laid out (CaseContext.table); line breaks in a cell are kept. */
function reportTable(table: ReportTable): string {
  const cell = (text: string) => esc(text).replace(/\n/g, '<br>');
  return `<table class="matrix"><caption>${esc(table.title)}</caption><thead><tr>${table.columns.map((c) => `<th>${cell(c)}</th>`).join('')}</tr></thead><tbody>
${table.rows.map((row) => `<tr>${row.map((c) => `<td>${cell(c)}</td>`).join('')}</tr>`).join('\n')}
</tbody></table>
`;
}

function testsSection({ all, failed, unhandledErrors }: ReportModel['tests']): string {
  if (all.length === 0 && unhandledErrors.length === 0) return '';
  const failures = failed.map((t) =>
    `<li><b>${esc(t.file)}</b> › ${esc(t.name)}${(t.errors ?? []).map((e) => `<pre>${esc(e)}</pre>`).join('')}</li>`);
  const errors = unhandledErrors.map((e) => `<li><b>unhandled error</b><pre>${esc(e)}</pre></li>`);
  const rows = all.map((t) =>
    `<tr class="${t.state === 'failed' ? 'not-holding' : ''}"><td>${esc(t.file)}</td><td>${esc(t.name)}</td>` +
    `<td class="state-${esc(t.state)}">${esc(t.state)}</td><td class="num">${t.durationMs !== undefined ? esc(formatDuration(t.durationMs)) : ''}</td></tr>`);
  return `<section class="tests">
<h2>Tests</h2>
${failures.length || errors.length ? `<ul class="failures">${[...errors, ...failures].join('\n')}</ul>` : `<p>All ${all.length} tests passed or were skipped.</p>`}
<details><summary>All ${all.length} tests</summary>
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
