/**
 * The console's single page: plain HTML, CSS and a small script that polls the console's JSON API
 * (server.ts) and draws tables and line charts. Nothing is loaded from outside (the machine may have
 * no internet, and a page that calls out is not a local tool); every value is inserted as text, never
 * as markup, since topic names, error messages and envelopes come from the systems under test.
 */
export function consolePage(title = 'Reliability Lab console'): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>${title}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:10px 16px;display:flex;gap:16px;align-items:baseline}
header h1{font-size:16px;margin:0}
main{padding:12px 16px;display:grid;gap:12px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:10px 12px}
h2{font-size:14px;margin:0 0 8px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eef0f3;vertical-align:top;font-variant-numeric:tabular-nums}
th{font-weight:600;color:#56607a}
.chip{display:inline-block;padding:1px 8px;margin:2px;border-radius:10px;background:#e3f4e6}
.down{background:#fbe0e0}.paused{background:#fdf1cf}
.warn{color:#b3261e;font-weight:600}
.muted{color:#7a8397}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:8px}
.chart{border:1px solid #eef0f3;border-radius:4px;padding:4px 6px}
.chart svg{width:100%;height:60px}
input{font:inherit;padding:2px 6px}
pre{margin:0;white-space:pre-wrap;max-width:520px}
</style></head>
<body>
<header><h1>${title}</h1><span id="meta" class="muted">loading…</span></header>
<main>
<section><h2>Processes</h2><div id="processes"></div></section>
<section><h2>Alerts</h2><div id="alerts" class="muted">…</div></section>
<section><h2>Topics <input id="filter" placeholder="filter topics, groups, databases" aria-label="filter topics, groups and databases" size="32"></h2><div id="topics"></div></section>
<section><h2>Consumer groups (lag from the last stable offset)</h2><div id="groups"></div></section>
<section><h2>Outbox backlog</h2><div id="outbox"></div></section>
<section><h2>Dead letters <button id="load-dlq">read the DLQ topics</button></h2><div id="dlq" class="muted">not read yet</div></section>
<section><h2>Metrics (Prometheus, last 15 min)</h2><div id="metrics" class="charts"></div></section>
<section><h2>Fault log</h2><div id="faults"></div></section>
</main>
<script>
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return node;
}
function table(head, rows) {
  return el('table', {}, el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => c instanceof Node ? el('td', {}, c) : el('td', {}, c))))));
}
function put(id, node) { $(id).replaceChildren(node); $(id).classList.remove('muted'); }
function note(id, text) { $(id).replaceChildren(text); $(id).classList.add('muted'); }

function renderOverview(o) {
  $('meta').textContent = o.provider + ' cluster · ' + new Date(o.at).toLocaleTimeString();
  put('processes', el('div', {}, ...o.processes.map((p) => el('span', { class: 'chip ' + (p.state === 'up' ? '' : p.state), title: 'pid ' + p.pid }, p.name + ' ' + p.state))));
  if (o.errors.topics) note('topics', 'topics unavailable: ' + o.errors.topics);
  else if (!o.topics.length) note('topics', 'no topics');
  else {
    const rows = [];
    for (const t of o.topics) for (const p of t.partitions) {
      const short = p.isr.length < p.replicas.length;
      const leo = p.replicas.map((b) => 'b' + b + ':' + (p.leo[b] ?? '?')).join(' ');
      rows.push([t.name, p.partition, p.leader < 0 ? el('span', { class: 'warn' }, 'none') : p.leader, p.replicas.join(','), short ? el('span', { class: 'warn' }, p.isr.join(',')) : p.isr.join(','), leo, p.hw ?? '?', p.lso ?? '?']);
    }
    const box = el('div', {}, table(['topic', 'partition', 'leader', 'replicas', 'ISR', 'LEO per replica', 'HW', 'LSO'], rows));
    if (o.topicsOmitted) box.append(el('p', { class: 'muted' }, o.topicsOmitted + ' more topics: narrow the filter'));
    put('topics', box);
  }
  if (o.errors.groups) note('groups', 'groups unavailable: ' + o.errors.groups);
  else if (!o.groups.length) note('groups', 'no consumer groups');
  else put('groups', table(['group', 'state', 'members', 'topic', 'partition', 'committed', 'LSO', 'lag'],
    o.groups.flatMap((g) => (g.partitions.length ? g.partitions : [{}]).map((p) => [g.group, g.state, g.members, p.topic ?? '', p.partition ?? '', p.committed ?? '-', p.end ?? '', p.lag ?? '']))));
  if (o.errors.outbox) note('outbox', 'outbox unavailable: ' + o.errors.outbox);
  else if (!o.outbox.length) note('outbox', 'no database with an outbox');
  else put('outbox', table(['database', 'unpublished rows', 'oldest (s)'], o.outbox.map((b) => [b.database, b.backlog, b.oldestAgeSeconds.toFixed(1)])));
  if (!o.faults.length) note('faults', 'no faults injected with lab chaos');
  else put('faults', table(['time', 'action', 'target', 'detail'], o.faults.slice().reverse().map((f) => { const { at, action, target, ...rest } = f; return [new Date(at).toLocaleTimeString(), action, target ?? '', JSON.stringify(rest)]; })));
}

function renderAlerts(a) {
  if (!a.available) return note('alerts', 'this cluster runs no Alertmanager');
  if (!a.alerts.length) return note('alerts', 'no alerts firing');
  put('alerts', table(['alert', 'state', 'since', 'summary'], a.alerts.map((x) => [el('span', { class: 'warn' }, x.name), x.state, new Date(x.since).toLocaleTimeString(), x.summary ?? ''])));
}

function sparkline(points) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 300 60');
  svg.setAttribute('preserveAspectRatio', 'none');
  if (points.length < 2) return svg;
  const t0 = points[0][0], t1 = points[points.length - 1][0];
  const max = Math.max(...points.map((p) => p[1]), 1e-9);
  const d = points.map(([t, v], i) => (i ? 'L' : 'M') + ((t - t0) / Math.max(t1 - t0, 1) * 300).toFixed(1) + ',' + (58 - v / max * 56).toFixed(1)).join(' ');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', d); path.setAttribute('fill', 'none'); path.setAttribute('stroke', '#3565c9'); path.setAttribute('stroke-width', '1.5');
  svg.append(path);
  return svg;
}

function renderMetrics(m) {
  if (!m.available) return note('metrics', m.reason);
  $('metrics').classList.remove('muted');
  $('metrics').replaceChildren(...m.series.map((s) => {
    const last = s.points.length ? s.points[s.points.length - 1][1] : undefined;
    const value = last === undefined ? 'no data' : s.unit === 'percentunit' ? (last * 100).toFixed(1) + ' %' : +last.toFixed(3) + (s.unit === 's' ? ' s' : s.unit === 'ops' ? ' /s' : '');
    return el('div', { class: 'chart' }, el('div', {}, s.title + ': ', el('b', {}, value)), sparkline(s.points));
  }));
}

async function json(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(path + ': HTTP ' + response.status + ' ' + (await response.text()));
  return response.json();
}

async function loadDlq() {
  note('dlq', 'reading…');
  try {
    const records = await json('/api/dlq');
    if (!records.length) return note('dlq', 'every DLQ topic is empty');
    put('dlq', table(['topic', 'partition@offset', 'error class', 'message', 'attempts', 'envelope'], records.map((r) => [
      r.topic, r.partition + '@' + r.offset, el('span', { class: 'warn' }, r.errorClass ?? '?'), r.errorMessage ?? '', r.attempts ?? '',
      el('pre', {}, r.envelope ? JSON.stringify(r.envelope, null, 1) : 'undecodable: ' + r.undecodable)])));
  } catch (error) { note('dlq', String(error)); }
}
$('load-dlq').addEventListener('click', loadDlq);

async function refresh() {
  const filter = $('filter').value;
  await Promise.all([
    json('/api/overview?filter=' + encodeURIComponent(filter)).then(renderOverview),
    json('/api/alerts').then(renderAlerts),
    json('/api/metrics').then(renderMetrics),
  ]).catch((error) => { $('meta').textContent = 'refresh failed: ' + error.message; });
  document.body.dataset.loaded = 'true';
  setTimeout(refresh, 3000);
}
refresh();
</script>
</body></html>
`;
}
