/**
 * The one table `npm run bench` prints: per row the median of its repetitions, the target, and every
 * repetition with the machine's 1-minute load average when it was measured — on a shared 2-core machine
 * a number means little without the load it was measured under.
 */
import os from 'node:os';
import { median } from '../lab/util/statistics.ts';

/** One repetition's figure and the load (os.loadavg, 1 min) at the moment it was taken. */
export interface Sample {
  value: number;
  load: number;
}

export function sample(value: number): Sample {
  return { value, load: os.loadavg()[0]! };
}

/** The ratio a / b of two sides measured side by side; its load is the mean of theirs. */
export function ratioSample(a: Sample, b: Sample): Sample {
  return { value: a.value / b.value, load: (a.load + b.load) / 2 };
}

export type Format = 'rate' | 'ratio' | 'ms' | 's' | 'bytes' | 'MiB';

export interface Row {
  /** What was measured, with its unit. */
  name: string;
  format: Format;
  samples: Sample[];
  target?: { op: '>=' | '<='; value: number };
}

/** A heading line between groups of rows (a section). */
export interface Heading {
  heading: string;
}

/**
 * NaN = not measured (a section skipped a rate); +Infinity = did not finish within the bench's limit
 * (e.g. a latency whose event was not applied before the drain limit): both print, neither hides.
 */
export function formatValue(value: number, format: Format): string {
  if (value === Number.POSITIVE_INFINITY) return 'unfinished';
  if (!Number.isFinite(value)) return 'n/a';
  switch (format) {
    case 'rate':
    case 'bytes':
      return Math.round(value).toLocaleString('en-US');
    case 'ratio':
      // Two significant digits below 0.1: a ratio of 0.004 must not print as a flat 0.00.
      return value !== 0 && Math.abs(value) < 0.1 ? value.toPrecision(2) : value.toFixed(2);
    case 'ms':
      return value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US');
    case 's':
      return value.toFixed(2);
    case 'MiB':
      return value.toFixed(0);
  }
}

function targetText(row: Row, value: number): string {
  if (!row.target) return '';
  const met = row.target.op === '>=' ? value >= row.target.value : value <= row.target.value;
  return `${row.target.op} ${formatValue(row.target.value, row.format)} ${Number.isNaN(value) ? '' : met ? 'met' : 'MISSED'}`.trim();
}

export function renderTable(lines: Array<Row | Heading>): string {
  const header = ['measurement', 'median', 'target', 'repetitions: value @ load avg (1 min)'];
  const body = lines.map((line) => {
    if ('heading' in line) return line.heading;
    const value = median(line.samples.map((s) => s.value).filter((v) => !Number.isNaN(v)));
    return [line.name, formatValue(value, line.format), targetText(line, value), line.samples.map((s) => (Number.isNaN(s.load) ? 'n/a' : `${formatValue(s.value, line.format)} @ ${s.load.toFixed(1)}`)).join('   ')];
  });
  const rows = body.filter((line): line is string[] => Array.isArray(line));
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const pad = (cells: string[]) =>
    cells
      .map((cell, column) => (column === 1 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  const rule = '-'.repeat(widths.reduce((sum, width) => sum + width + 2, -2));
  const out = [pad(header), rule];
  for (const line of body) out.push(Array.isArray(line) ? pad(line) : `${line}`);
  return out.join('\n');
}
