/**
 * The Grafana dashboard, built with Grafana's own typed builders (@grafana/grafana-foundation-sdk)
 * from the signals: one row per concern, one time-series panel per signal, each panel querying the
 * signal's recorded series so Grafana and Prometheus's rules show the same numbers.
 *
 *   JSON.stringify(walletDashboard(), null, 2)   // infra/observability/grafana/dashboards/wallet-ledger.json
 */
import { LegendDisplayMode, LegendPlacement, VizLegendOptionsBuilder } from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder, DashboardCursorSync, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { signals } from './signals.ts';

export const dashboardUid = 'reliability-lab-wallet';
/** The provisioned Prometheus data source (infra/observability/grafana/provisioning). */
export const datasource = { type: 'prometheus', uid: 'lab-prometheus' };

export function walletDashboard() {
  const builder = new DashboardBuilder('Reliability Lab — wallet ledger')
    .uid(dashboardUid)
    .tags(['reliability-lab', 'generated'])
    .refresh('5s')
    .time({ from: 'now-15m', to: 'now' })
    .tooltip(DashboardCursorSync.Crosshair);
  for (const row of [...new Set(signals.map((s) => s.row))]) {
    builder.withRow(new RowBuilder(row));
    for (const signal of signals.filter((s) => s.row === row)) {
      builder.withPanel(
        new PanelBuilder()
          .title(signal.title)
          .description(`${signal.description}\n\nPromQL: ${signal.expr}`)
          .unit(signal.unit)
          .min(0)
          .datasource(datasource)
          .height(8)
          .span(8)
          .legend(new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom))
          .withTarget(new DataqueryBuilder().expr(signal.record).legendFormat(signal.legend ?? signal.title)),
      );
    }
  }
  return builder.build();
}
