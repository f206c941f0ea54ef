import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dashboardUid, walletDashboard } from '../../lab/observability/dashboards.ts';
import { generatedFiles, observabilityDir } from '../../lab/observability/generated.ts';
import { promtool } from '../../lab/observability/promtool.ts';
import { signals } from '../../lab/observability/signals.ts';
import { repoRoot } from '../../lab/infra/paths.ts';

const prometheusDir = path.join(observabilityDir, 'prometheus');
const readYaml = (file: string) => parse(fs.readFileSync(path.join(prometheusDir, file), 'utf8'));

interface AlertRule { alert: string; annotations: { runbook_url: string } }
interface RuleTest { name: string; alert_rule_test: Array<{ alertname: string; exp_alerts?: unknown[] }> }

describe('observability rules and dashboards', () => {
  it('the committed recording rules and dashboard are what lab/observability generates (`npx lab observability generate`)', () => {
    for (const file of generatedFiles()) {
      expect(fs.existsSync(file.path), file.path).toBe(true);
      expect(fs.readFileSync(file.path, 'utf8'), `${path.relative(repoRoot, file.path)} is stale: run npx lab observability generate`).toBe(file.content);
    }
  });

  it('promtool check rules accepts the recording and alert rules', () => {
    const { ok, output } = promtool(['check', 'rules', 'recording.yml', 'alerts.yml'], prometheusDir);
    expect(output).toContain(`SUCCESS: ${signals.length} rules found`);
    expect(ok, output).toBe(true);
  });

  it('promtool test rules passes, with a firing and a quiet case for every alert', () => {
    const { ok, output } = promtool(['test', 'rules', 'alerts.test.yml'], prometheusDir);
    expect(ok, output).toBe(true);
    const alerts = (readYaml('alerts.yml').groups as Array<{ rules: AlertRule[] }>).flatMap((g) => g.rules).map((r) => r.alert);
    const cases = (readYaml('alerts.test.yml').tests as RuleTest[]).flatMap((t) => t.alert_rule_test);
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${alert} has a firing case`).toBe(true);
      expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${alert} has a quiet case`).toBe(true);
    }
  });

  it('every alert links to a runbook section that exists', () => {
    const runbook = fs.readFileSync(path.join(repoRoot, 'docs', 'RUNBOOK.md'), 'utf8');
    const anchors = new Set([...runbook.matchAll(/^#{2,4} (.+)$/gm)].map((m) => m[1]!.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')));
    const rules = (readYaml('alerts.yml').groups as Array<{ rules: AlertRule[] }>).flatMap((g) => g.rules);
    for (const rule of rules) {
      const [file, anchor] = rule.annotations.runbook_url.split('#');
      expect(file).toBe('docs/RUNBOOK.md');
      expect(anchors.has(anchor!), `${rule.alert}: no heading for #${anchor} in docs/RUNBOOK.md`).toBe(true);
    }
  });

  it('the dashboard has one panel per signal, each drawing its recorded series, in rows that do not overlap', () => {
    const dashboard = walletDashboard();
    expect(dashboard.uid).toBe(dashboardUid);
    const panels = (dashboard.panels ?? []) as Array<{ type: string; title?: string; targets?: Array<{ expr: string }>; gridPos: { x: number; y: number; w: number; h: number } }>;
    const charts = panels.filter((p) => p.type === 'timeseries');
    expect(charts.map((p) => p.targets?.[0]?.expr)).toEqual(signals.map((s) => s.record));
    expect(panels.filter((p) => p.type === 'row').map((p) => p.title)).toEqual([...new Set(signals.map((s) => s.row))]);
    const cells = new Set<string>();
    for (const { gridPos: g } of panels) {
      expect(g.x + g.w).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) for (let y = g.y; y < g.y + g.h; y++) {
        expect(cells.has(`${x},${y}`), `panels overlap at ${x},${y}`).toBe(false);
        cells.add(`${x},${y}`);
      }
    }
  });
});

describe('a case\'s Prometheus panels (lab/observability/arm-metrics.ts)', () => {
  it('select the arena\'s own database, groups and DLQ topics by its id, regex-escaped', async () => {
    const { caseQueries } = await import('../../lab/observability/arm-metrics.ts');
    const queries = caseQueries('e005_replay1');
    expect(queries.map((q) => q.query)).toEqual([
      'sum(lab_outbox_backlog{database=~"e005_replay1.*"})',
      'sum(lab_consumergroup_lag{group=~"e005_replay1.*"})',
      'sum(lab_topic_end_offset{topic=~"e005_replay1.*\\\\.dlq"})',
      'lab:cache_hit_ratio:rate1m',
    ]);
    expect(caseQueries('a.b')[0]!.query).toBe('sum(lab_outbox_backlog{database=~"a\\\\.b.*"})');
  });
});
