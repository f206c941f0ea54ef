/**
 * The arm's timeline chart as inline SVG: stacked panels sharing one time axis (throughput; latency
 * p50/p99; any other series), fault windows shaded across all panels.
 *
 *   timelineChart(arm)   // '<svg …>' or '<p class="empty">no timeline recorded</p>'
 *
 * Separate panels instead of two y-axes: ops/s and ms have nothing in common, and one scale per panel
 * keeps each readable. Drawn here rather than by a charting library: the report runs no script (its
 * Content-Security-Policy forbids it), and the libraries worth having (Vega, Chart.js, uPlot) draw
 * with JavaScript at view time, which would mean inlining 50–400 kB of script per report for two line
 * charts. What a static-SVG library would add (d3-scale's nice ticks, d3-shape's paths) is the 30
 * lines of tick and path arithmetic below: not worth a dependency. All text is escaped.
 */
import type { ArmResult, TimelinePoint } from './results.ts';
import { esc, formatTick, formatValue, seconds, truncate } from './format.ts';

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

export function timelineChart(arm: Pick<ArmResult, 'experiment' | 'arm' | 'timeline' | 'faults'>): string {
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
    panels.push({ title: 'throughput', unit: 'ops/s', lines: [series('throughput', COLORS.throughput, 'throughput', timeline, grid, true)] });
  }
  const latency = [
    timeline.some((p) => p.latencyP50 !== undefined) ? series('p50', COLORS.p50, 'latencyP50', timeline, grid) : undefined,
    timeline.some((p) => p.latencyP99 !== undefined) ? series('p99', COLORS.p99, 'latencyP99', timeline, grid) : undefined,
  ].filter((l): l is Line => l !== undefined);
  if (latency.length) panels.push({ title: 'latency', unit: 'ms', lines: latency });
  if (extraKeys.length) {
    panels.push({ title: 'other series', unit: '', lines: extraKeys.map((k, i) => series(k, EXTRA_COLORS[i % EXTRA_COLORS.length]!, k, timeline, grid)) });
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

function series(name: string, color: string, key: string, timeline: TimelinePoint[], grid: number[] | undefined, step = false): Line {
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

/** SVG coordinates to one decimal. */
function r(n: number): string {
  return String(Math.round(n * 10) / 10);
}

const SAMPLED_COLORS = ['#2563eb', '#0891b2', '#7c3aed', '#059669', '#d97706', '#db2777', '#65a30d', '#475569'];

/**
 * The states an outside observer sampled (ArmResult.sampled: E-007's LEO per replica, HW and LSO), one
 * panel per series on one time axis, fault windows shaded. Step lines: a value holds until the next
 * sample changes it (offsets move in jumps, and a frozen HW must read as a flat line, not a slope); a
 * value missing from a sample (a paused broker answered nothing) breaks its line.
 */
export function sampledChart(arm: Pick<ArmResult, 'experiment' | 'arm' | 'sampled' | 'faults'>): string {
  const panels = (arm.sampled ?? []).filter((s) => s.points.length > 0);
  if (panels.length === 0) return '';
  const faults = arm.faults ?? [];
  const lastT = Math.max(...panels.flatMap((s) => s.points.map((p) => p.t)));
  const xMax = niceCeil(Math.max(lastT, ...faults.map((f) => Math.max(f.start, f.end ?? 0))));
  const labelRows = Math.min(3, faults.length);
  const top = 6 + labelRows * LABEL_ROW;
  const [plotLeft, plotRight] = [MARGIN.left, WIDTH - MARGIN.right];
  const x = (t: number) => plotLeft + (t / xMax) * (plotRight - plotLeft);
  const panelsHeight = panels.length * (PANEL.title + PANEL.plot) + (panels.length - 1) * PANEL.gap;
  const plotsBottom = top + panelsHeight;
  const parts: string[] = [];
  faults.forEach((f, i) => {
    const x0 = x(Math.max(0, f.start));
    const w = Math.max(2, x(Math.min(xMax, f.end ?? xMax)) - x0);
    const ly = 6 + (i % Math.max(1, labelRows)) * LABEL_ROW + 9;
    const anchorEnd = x0 > plotRight - 160;
    parts.push(`<g class="fault"><title>${esc(`${f.fault} on ${f.target}: ${seconds(f.start)} s – ${f.end !== undefined ? `${seconds(f.end)} s` : 'not ended'}`)}</title>` +
      `<rect x="${r(x0)}" y="${r(top + PANEL.title)}" width="${r(w)}" height="${r(plotsBottom - top - PANEL.title)}" fill="${COLORS.fault}" fill-opacity="0.11"/>` +
      `<line x1="${r(x0)}" x2="${r(x0)}" y1="${r(ly - 9)}" y2="${r(plotsBottom)}" stroke="${COLORS.fault}" stroke-opacity="0.5" stroke-dasharray="3 2"/>` +
      `<text x="${r(anchorEnd ? x0 - 3 : x0 + 3)}" y="${r(ly)}" class="fault-label"${anchorEnd ? ' text-anchor="end"' : ''}>${esc(truncate(`${f.fault} ${f.target}${f.end === undefined ? ' (open)' : ''}`, 40))}</text></g>`);
  });
  const xTicks = ticks(xMax, 8);
  panels.forEach((panel, i) => {
    const pTop = top + i * (PANEL.title + PANEL.plot + PANEL.gap) + PANEL.title;
    const pBottom = pTop + PANEL.plot;
    const names = [...new Set(panel.points.flatMap((p) => Object.keys(p.values)))];
    const yMax = niceCeil(Math.max(0, ...panel.points.flatMap((p) => Object.values(p.values))));
    const y = (v: number) => pBottom - (v / yMax) * PANEL.plot;
    const color = (k: number) => SAMPLED_COLORS[k % SAMPLED_COLORS.length]!;
    const legend = names.map((n, k) => `<tspan fill="${color(k)}" font-weight="700">━</tspan> ${esc(n)}`).join('  ');
    parts.push(`<text x="${plotLeft}" y="${pTop - 6}" class="panel-title">${esc(panel.series)}   ${legend}</text>`);
    for (const v of ticks(yMax, 4)) {
      parts.push(`<line x1="${plotLeft}" x2="${plotRight}" y1="${r(y(v))}" y2="${r(y(v))}" class="grid"/>` +
        `<text x="${plotLeft - 6}" y="${r(y(v) + 3.5)}" class="tick" text-anchor="end">${esc(formatTick(v))}</text>`);
    }
    for (const t of xTicks) parts.push(`<line x1="${r(x(t))}" x2="${r(x(t))}" y1="${pTop}" y2="${pBottom}" class="grid"/>`);
    parts.push(`<rect x="${plotLeft}" y="${pTop}" width="${plotRight - plotLeft}" height="${PANEL.plot}" class="frame"/>`);
    names.forEach((name, k) => {
      // Lines drawn later sit on top; a small vertical offset per line keeps equal values (HW = LSO) apart.
      const lift = k * 1.5;
      for (const run of stepRuns(panel.points, name)) {
        const d = run.map(([t, v], j) => `${j ? `H${r(x(t))}V` : `M${r(x(t))},`}${r(y(v) - lift)}`).join('');
        parts.push(`<path d="${d}" fill="none" stroke="${color(k)}" stroke-width="1.6"><title>${esc(`${name}: ${run.map(([, v]) => v).at(-1)} at ${seconds(run.at(-1)![0])} s`)}</title></path>`);
      }
    });
  });
  for (const t of xTicks) parts.push(`<text x="${r(x(t))}" y="${plotsBottom + 14}" class="tick" text-anchor="middle">${esc(formatTick(t / 1000))}</text>`);
  parts.push(`<text x="${plotRight}" y="${plotsBottom + 27}" class="tick" text-anchor="end">time since the arm started (s)</text>`);
  const height = plotsBottom + MARGIN.bottom;
  const aria = `${arm.experiment} ${arm.arm}: ${panels.map((p) => p.series).join(', ')} as sampled over time, ${faults.length} fault window${faults.length === 1 ? '' : 's'}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${r(height)}" width="${WIDTH}" height="${r(height)}" role="img" aria-label="${esc(aria)}">${parts.join('')}</svg>`;
}

/** Runs of consecutive samples that have `name` ([t, value] each); a sample without it ends a run. */
export function stepRuns(points: ReadonlyArray<{ t: number; values: Record<string, number> }>, name: string): Array<Array<[number, number]>> {
  const runs: Array<Array<[number, number]>> = [];
  let current: Array<[number, number]> = [];
  for (const p of points) {
    const v = p.values[name];
    if (v !== undefined && Number.isFinite(v)) current.push([p.t, v]);
    else if (current.length) (runs.push(current), (current = []));
  }
  if (current.length) runs.push(current);
  return runs;
}
