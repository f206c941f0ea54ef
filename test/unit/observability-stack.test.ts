import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { imageFor, imagePathMap } from '../../lab/infra/containers/images.ts';
import { placeInContainer } from '../../lab/infra/containers/placement.ts';
import { brokerSpec, jmxAgentJar } from '../../lab/infra/local/kafka.ts';
import { repoRoot } from '../../lab/infra/paths.ts';
import { consumerLag, measuredTopic } from '../../lab/observability/exporter.ts';
import { promtool } from '../../lab/observability/promtool.ts';
import { alertmanagerSpec, mysqlExporterCnf, prometheusConfig, serviceTarget, type ObservabilityPlan } from '../../lab/observability/stack.ts';

const plan: ObservabilityPlan = {
  prometheusPort: 1001, alertmanagerPort: 1002, mysqldExporterPort: 1003, redisExporterPort: 1004, labExporterPort: 1005,
  brokers: [{ id: 1, metricsPort: 2001 }, { id: 2, metricsPort: 2002 }],
};

describe('the observability stack', () => {
  it('writes a prometheus.yml that promtool accepts, scraping every part every 5 s and alerting to the Alertmanager', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-prometheus-'));
    try {
      const rules = ['recording.yml', 'alerts.yml'].map((file) => {
        fs.copyFileSync(path.join(repoRoot, 'infra', 'observability', 'prometheus', file), path.join(dir, file));
        return path.join(dir, file);
      });
      const text = prometheusConfig(plan, rules, path.join(dir, 'targets'));
      fs.writeFileSync(path.join(dir, 'prometheus.yml'), text);
      const checked = promtool(['check', 'config', path.join(dir, 'prometheus.yml')]);
      expect(checked.output).toContain('SUCCESS');
      expect(checked.ok).toBe(true);

      const config = parse(text);
      expect(config.global.scrape_interval).toBe('5s');
      expect(config.global.evaluation_interval).toBe('5s');
      expect(config.alerting.alertmanagers[0].static_configs[0].targets).toEqual(['127.0.0.1:1002']);
      const jobs = Object.fromEntries(config.scrape_configs.map((job: { job_name: string }) => [job.job_name, job]));
      expect(Object.keys(jobs).sort()).toEqual(['alertmanager', 'kafka', 'lab-exporter', 'mysql', 'prometheus', 'redis', 'services']);
      expect(jobs.kafka.static_configs).toEqual([
        { targets: ['127.0.0.1:2001'], labels: { broker: '1' } },
        { targets: ['127.0.0.1:2002'], labels: { broker: '2' } },
      ]);
      expect(jobs.services.file_sd_configs[0].files).toEqual([path.join(dir, 'targets', '*.json')]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('binds the Alertmanager to loopback without a gossip port', () => {
    const args = alertmanagerSpec('/usr/bin/prometheus-alertmanager', plan).args;
    expect(args).toContain('--web.listen-address=127.0.0.1:1002');
    expect(args).toContain('--cluster.listen-address=');
  });

  it("gives mysqld-exporter MariaDB's own address and the lab user in a my.cnf (the one way both Debian versions take)", () => {
    expect(mysqlExporterCnf({ port: 3307, user: 'lab', password: 'abc123' })).toBe('[client]\nuser=lab\npassword=abc123\nhost=127.0.0.1\nport=3307\n');
  });

  it('names a service target by its HTTP API address', () => {
    expect(serviceTarget('svc-relay-1', 'http://127.0.0.1:41234', 'relay')).toEqual([{ targets: ['127.0.0.1:41234'], labels: { service: 'relay', process: 'svc-relay-1' } }]);
    expect(serviceTarget('svc-relay-1', 'http://localhost:5', 'relay')[0]!.targets).toEqual(['127.0.0.1:5']);
  });

  it('loads the JMX agent in a broker on loopback, and finds it in the kafka image', () => {
    const spec = brokerSpec(2, 2002);
    const agent = spec.args.find((arg) => arg.startsWith('-javaagent:'));
    expect(agent).toMatch(new RegExp(`^-javaagent:${jmxAgentJar()}=127\\.0\\.0\\.1:2002:.+/observability/jmx-exporter\\.yml$`));
    expect(spec.args.indexOf(agent!)).toBeLessThan(spec.args.indexOf('kafka.Kafka'));
    expect(brokerSpec(2).args.some((arg) => arg.startsWith('-javaagent:'))).toBe(false);
    const placed = placeInContainer(spec, { image: 'lab/kafka:x', name: 'b', labels: {}, mounts: [] }, imagePathMap());
    expect(placed.args.find((arg) => arg.startsWith('-javaagent:'))).toMatch(/^-javaagent:\/opt\/lab\/jmx-exporter\/jmx_prometheus_javaagent-[\d.]+\.jar=127\.0\.0\.1:2002:/);
    expect(['prometheus', 'alertmanager', 'mysqld-exporter', 'redis-exporter'].map(imageFor)).toEqual(Array(4).fill('observability'));
  });
});

describe('the lab exporter', () => {
  it('measures lag from the last stable offset, skipping partitions without a commit or a known LSO', () => {
    const lso = new Map([['t/0', 10], ['t/1', 5], ['u/0', 7]]);
    const lag = consumerLag(
      [
        { group: 'g', topic: 't', partition: 0, offset: 4 },
        { group: 'g', topic: 't', partition: 1, offset: 6 }, // committed past the LSO read a moment earlier
        { group: 'g', topic: 't', partition: 2, offset: 1 }, // no LSO known
        { group: 'h', topic: 'u', partition: 0, offset: -1 }, // nothing committed
      ],
      lso,
    );
    expect(lag).toEqual([
      { group: 'g', topic: 't', partition: 0, lag: 6 },
      { group: 'g', topic: 't', partition: 1, lag: 0 },
    ]);
  });

  it("measures the lab's topics, not Kafka's internal ones", () => {
    expect(['__consumer_offsets', '__transaction_state', 'lab_e005_x.wallet-events.dlq'].filter(measuredTopic)).toEqual(['lab_e005_x.wallet-events.dlq']);
  });
});
