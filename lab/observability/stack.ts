/**
 * The observability stack `lab up` starts next to the cluster, all on free 127.0.0.1 ports and
 * supervised like every other process (pid files; `lab down`, the guard and Ctrl-C stop them):
 *
 *   prometheus       scrapes every 5 s, evaluates recording.yml + alerts.yml, 2 h retention, alerts to…
 *   alertmanager     one null receiver: /api/v2/alerts is where a test or a person reads what fires
 *   mysqld-exporter  straight to MariaDB (not through its proxy: a cut link must not blind the metrics)
 *   redis-exporter   straight to Redis, likewise
 *   lab-exporter     lab/observability/exporter.ts: outbox backlog/age (SQL), lag from the LSO, end offsets
 *   JMX agent        in each broker (-javaagent, infra/observability/jmx-exporter.yml; kafka.ts adds it)
 *
 * Service processes the suites start are scraped through file_sd: services.ts writes one target file
 * per service into the run dir when it starts one and removes it when it stops (`serviceTargets`).
 * Pure functions except the target files: unit-tested.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import type { ProcessSpec } from '../infra/local/supervisor.ts';
import { repoRoot, runPaths } from '../infra/paths.ts';

export const observabilityBinaries = {
  prometheus: ['prometheus', '/usr/bin/prometheus'],
  alertmanager: ['prometheus-alertmanager', '/usr/bin/prometheus-alertmanager'],
  mysqldExporter: ['prometheus-mysqld-exporter', '/usr/bin/prometheus-mysqld-exporter'],
  redisExporter: ['prometheus-redis-exporter', '/usr/bin/prometheus-redis-exporter'],
};

/** The Debian packages of the binaries above (setup installs them when missing). */
export const observabilityPackages = ['prometheus', 'prometheus-alertmanager', 'prometheus-mysqld-exporter', 'prometheus-redis-exporter'];

export type ObservabilityTools = Record<keyof typeof observabilityBinaries, string>;

export const observabilityProcesses = ['prometheus', 'alertmanager', 'mysqld-exporter', 'redis-exporter', 'lab-exporter'] as const;

export interface ObservabilityPlan {
  prometheusPort: number;
  alertmanagerPort: number;
  mysqldExporterPort: number;
  redisExporterPort: number;
  labExporterPort: number;
  /** Each broker's JMX agent port. */
  brokers: Array<{ id: number; metricsPort: number }>;
}

const sourceDir = path.join(repoRoot, 'infra', 'observability');
const ruleFileNames = ['recording.yml', 'alerts.yml'];

/**
 * Configuration lives in the run dir, copied there at `lab up` (rule files, the JMX agent's config): the
 * containers provider mounts the run dir at its own path, so one file path serves both providers.
 */
export const observabilityPaths = {
  dir: () => path.join(runPaths.root, 'observability'),
  ruleFiles: () => ruleFileNames.map((file) => path.join(runPaths.root, 'observability', file)),
  jmxExporterConfig: () => path.join(runPaths.root, 'observability', 'jmx-exporter.yml'),
  /** mysqld-exporter's credentials (mode 0600). */
  mysqlCnf: () => path.join(runPaths.root, 'observability', 'mysqld-exporter.cnf'),
  prometheusConfig: () => path.join(runPaths.root, 'observability', 'prometheus.yml'),
  alertmanagerConfig: () => path.join(runPaths.root, 'observability', 'alertmanager.yml'),
  /** file_sd: one JSON file per running service process. */
  serviceTargets: () => path.join(runPaths.root, 'observability', 'targets'),
};

const local = (port: number) => `127.0.0.1:${port}`;

/** prometheus.yml for a plan. */
export function prometheusConfig(plan: ObservabilityPlan, rules: string[] = observabilityPaths.ruleFiles(), targetsDir = observabilityPaths.serviceTargets()): string {
  const job = (name: string, targets: string[], labels?: Record<string, string>) => ({ job_name: name, static_configs: [{ targets, ...(labels ? { labels } : {}) }] });
  return stringify({
    global: { scrape_interval: '5s', scrape_timeout: '4s', evaluation_interval: '5s' },
    rule_files: rules,
    alerting: { alertmanagers: [{ static_configs: [{ targets: [local(plan.alertmanagerPort)] }] }] },
    scrape_configs: [
      job('prometheus', [local(plan.prometheusPort)]),
      job('alertmanager', [local(plan.alertmanagerPort)]),
      // One static config per broker so its series carry broker="<id>" besides instance.
      { job_name: 'kafka', static_configs: plan.brokers.map((b) => ({ targets: [local(b.metricsPort)], labels: { broker: String(b.id) } })) },
      job('mysql', [local(plan.mysqldExporterPort)]),
      job('redis', [local(plan.redisExporterPort)]),
      job('lab-exporter', [local(plan.labExporterPort)]),
      { job_name: 'services', file_sd_configs: [{ files: [path.join(targetsDir, '*.json')], refresh_interval: '5s' }] },
    ],
  }, { lineWidth: 0 });
}

/** One receiver that sends nowhere: the lab reads alerts from the API. Short waits so a test sees them soon. */
export function alertmanagerConfig(): string {
  return stringify({
    route: { receiver: 'lab', group_by: ['alertname'], group_wait: '1s', group_interval: '5s', repeat_interval: '1h' },
    receivers: [{ name: 'lab' }],
  });
}

export function prometheusSpec(binary: string, plan: ObservabilityPlan): ProcessSpec {
  return {
    name: 'prometheus',
    command: binary,
    args: [
      `--config.file=${observabilityPaths.prometheusConfig()}`,
      `--storage.tsdb.path=${runPaths.data('prometheus')}`,
      '--storage.tsdb.retention.time=2h',
      `--web.listen-address=${local(plan.prometheusPort)}`,
      '--web.enable-lifecycle',
      '--log.level=warn',
    ],
    logFile: runPaths.log('prometheus'),
    readyPort: plan.prometheusPort,
  };
}

export function alertmanagerSpec(binary: string, plan: ObservabilityPlan): ProcessSpec {
  return {
    name: 'alertmanager',
    command: binary,
    args: [
      `--config.file=${observabilityPaths.alertmanagerConfig()}`,
      `--storage.path=${runPaths.data('alertmanager')}`,
      `--web.listen-address=${local(plan.alertmanagerPort)}`,
      '--cluster.listen-address=', // no gossip port: one Alertmanager, loopback only
      '--log.level=warn',
    ],
    logFile: runPaths.log('alertmanager'),
    readyPort: plan.alertmanagerPort,
  };
}

/**
 * mysqld-exporter to MariaDB's own port (not its proxy), as the lab user, from a my.cnf: the one way
 * both the host's 0.14 (bookworm; also reads DATA_SOURCE_NAME) and the image's newer one (trixie; refuses
 * to start without a [client] user, ignoring DATA_SOURCE_NAME) take credentials and address.
 */
export function mysqlExporterCnf(mysql: { port: number; user: string; password: string }): string {
  return `[client]\nuser=${mysql.user}\npassword=${mysql.password}\nhost=127.0.0.1\nport=${mysql.port}\n`;
}

export function mysqldExporterSpec(binary: string, plan: ObservabilityPlan): ProcessSpec {
  return {
    name: 'mysqld-exporter',
    command: binary,
    args: [`--web.listen-address=${local(plan.mysqldExporterPort)}`, `--config.my-cnf=${observabilityPaths.mysqlCnf()}`, '--log.level=warn'],
    logFile: runPaths.log('mysqld-exporter'),
    readyPort: plan.mysqldExporterPort,
  };
}

export function redisExporterSpec(binary: string, plan: ObservabilityPlan, redisPort: number): ProcessSpec {
  return {
    name: 'redis-exporter',
    command: binary,
    args: ['-redis.addr', `redis://127.0.0.1:${redisPort}`, '-web.listen-address', local(plan.redisExporterPort)],
    logFile: runPaths.log('redis-exporter'),
    readyPort: plan.redisExporterPort,
  };
}

/** What the lab exporter is told (JSON in LAB_EXPORTER_CONFIG). */
export interface LabExporterConfig {
  port: number;
  /** Brokers' INTERNAL listeners: never behind Toxiproxy, and they advertise themselves. */
  brokers: string[];
  mysql: { host: string; port: number; user: string; password: string };
}

/** The lab exporter, a Node process like a service (tsx's ESM hooks by absolute URL, a small young generation). */
export function labExporterSpec(config: LabExporterConfig): ProcessSpec {
  const tsxEsm = pathToFileURL(createRequire(path.join(repoRoot, 'package.json')).resolve('tsx/esm')).href;
  return {
    name: 'lab-exporter',
    command: process.execPath,
    args: ['--max-semi-space-size=4', '--import', tsxEsm, path.join(repoRoot, 'lab', 'observability', 'exporter.ts')],
    cwd: repoRoot,
    env: { LAB_EXPORTER_CONFIG: JSON.stringify(config) },
    logFile: runPaths.log('lab-exporter'),
    readyPort: config.port,
  };
}

export function observabilityPorts(plan: ObservabilityPlan): number[] {
  return [plan.prometheusPort, plan.alertmanagerPort, plan.mysqldExporterPort, plan.redisExporterPort, plan.labExporterPort];
}

/** Writes the configuration files of a plan into the run dir. */
export function writeObservabilityConfig(plan: ObservabilityPlan, mysql: { port: number; user: string; password: string }): void {
  fs.mkdirSync(observabilityPaths.serviceTargets(), { recursive: true });
  for (const file of ruleFileNames) fs.copyFileSync(path.join(sourceDir, 'prometheus', file), path.join(observabilityPaths.dir(), file));
  fs.copyFileSync(path.join(sourceDir, 'jmx-exporter.yml'), observabilityPaths.jmxExporterConfig());
  fs.mkdirSync(runPaths.data('prometheus'), { recursive: true });
  fs.mkdirSync(runPaths.data('alertmanager'), { recursive: true });
  fs.writeFileSync(observabilityPaths.prometheusConfig(), prometheusConfig(plan));
  fs.writeFileSync(observabilityPaths.alertmanagerConfig(), alertmanagerConfig());
  fs.writeFileSync(observabilityPaths.mysqlCnf(), mysqlExporterCnf(mysql), { mode: 0o600 });
}

/** The file_sd entry of one service process: its /metrics on the port of its HTTP API. */
export function serviceTarget(name: string, url: string, service: string): Array<{ targets: string[]; labels: Record<string, string> }> {
  const { hostname, port } = new URL(url);
  return [{ targets: [`${hostname === 'localhost' ? '127.0.0.1' : hostname}:${port}`], labels: { service, process: name } }];
}

export const serviceTargets = {
  file: (name: string) => path.join(observabilityPaths.serviceTargets(), `${name}.json`),
  /** Written atomically (file_sd reads whole files; a half-written one would be an error). Only when the stack runs. */
  write(name: string, url: string, service: string): void {
    const dir = observabilityPaths.serviceTargets();
    if (!fs.existsSync(dir)) return;
    const tmp = path.join(dir, `.${name}.tmp`);
    fs.writeFileSync(tmp, JSON.stringify(serviceTarget(name, url, service)));
    fs.renameSync(tmp, serviceTargets.file(name));
  },
  remove(name: string): void {
    fs.rmSync(serviceTargets.file(name), { force: true });
  },
  /** Target files of service processes no longer running (a worker that died before removing its own). */
  prune(isRunning: (name: string) => boolean): void {
    const dir = observabilityPaths.serviceTargets();
    if (!fs.existsSync(dir)) return;
    for (const file of fs.readdirSync(dir)) {
      if (file.endsWith('.json') && !isRunning(file.slice(0, -'.json'.length))) fs.rmSync(path.join(dir, file), { force: true });
    }
  },
};
