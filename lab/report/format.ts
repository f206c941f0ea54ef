/**
 * How the report writes values as text: escaping for HTML, numbers, durations, dates, and what an
 * expectation row observed.
 *
 *   esc('<b>')                 → '&lt;b&gt;'
 *   formatValue(1200)          → '1,200'
 *   formatDuration(161_400)    → '2 min 41 s'
 *   observedText(row)          → '3 in case #4 (the first that broke it); 0–3 over 10 cases'
 *
 * Pure functions of their input (no locale or clock of the machine leaks in): the same results render
 * to the same page.
 */
import type { ExpectationResult } from './results.ts';

/** Escapes text for HTML text and attribute positions (and SVG, which is parsed as HTML here). */
export function esc(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** `1 arm` / `3 arms` */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Thousands separators; fewer decimals the larger the number. */
export function formatValue(value: number | string | undefined): string {
  if (value === undefined) return '—';
  if (typeof value !== 'number') return String(value);
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const digits = Number.isInteger(value) ? 0 : abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

export function formatTick(value: number): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

/** ms → seconds, with two decimals under 10 s. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms - m * 60_000) / 1000)} s`;
}

/** An ISO time as `2025-11-23 22:40:31 UTC`; anything else as given. */
export function formatDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A relative link to a file of the run directory; each segment encoded, so no scheme can sneak in. */
export function relativeHref(file: string): string {
  return file.split(/[\\/]+/).filter((s) => s && s !== '.' && s !== '..').map(encodeURIComponent).join('/');
}

/** `0` or `0–3`. */
function range(min: number, max: number): string {
  return min === max ? formatValue(min) : `${formatValue(min)}–${formatValue(max)}`;
}

/**
 * What an expectation row observed, saying which case(s) the number comes from. A plain arm has one
 * case: its value. A generated ("property") arm judged the expectation once per case:
 * - an "always" row shows the case that broke it (the first one), else the range over every case;
 * - a "sometimes" row says in how many cases it held, with the range per case and the arm's total.
 */
export function observedText(row: ExpectationResult): string {
  const over = row.over;
  if (!over) return formatValue(row.observed);
  if (over.cases === 0) return 'no case finished';
  const spread = over.min !== undefined && over.max !== undefined ? range(over.min, over.max) : '—';
  if (row.kind === 'sometimes') {
    const total = row.observed !== undefined ? `, ${formatValue(row.observed)} in total` : '';
    return `held in ${over.held} of ${plural(over.cases, 'case')} (${spread} per case${total})`;
  }
  if (over.held === over.cases) return `${spread} in every case of ${over.cases}`;
  const shown = over.failingCase !== undefined ? `${formatValue(row.observed)} in case #${over.failingCase} (the first that broke it)` : formatValue(row.observed);
  return `${shown}; ${spread} over ${plural(over.cases, 'case')}, held in ${over.held}`;
}
