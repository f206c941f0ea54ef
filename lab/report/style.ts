/**
 * The report's stylesheet, inlined into the page's <style> (the page loads nothing from outside).
 *
 *   `<style>${STYLE}</style>`
 */
export const STYLE = `
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
.declaration { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 10px; max-width: 1100px; }
.declaration dt { color: var(--muted); }
.declaration dd { margin: 0; }
.declaration dd:first-of-type { font-weight: 600; }
table.expectations { margin: 0 0 8px; font-size: 13px; width: auto; min-width: 60%; }
table.expectations th, table.expectations td { padding: 3px 10px 3px 0; }
table.matrix { margin: 0 0 10px; font-size: 12px; width: auto; }
table.matrix caption { text-align: left; font-weight: 600; padding: 4px 0; }
table.matrix th, table.matrix td { padding: 3px 10px 3px 0; vertical-align: top; }
.kind { font-size: 11px; color: var(--muted); }
.kind.sometimes { color: #7c3aed; font-weight: 600; }
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
