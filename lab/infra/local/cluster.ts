/**
 * The `local` provider's cluster: native processes on 127.0.0.1, started in dependency order, with a
 * Toxiproxy proxy in front of every client link. `upLocalCluster` is idempotent: a healthy running
 * cluster is reused, leftovers of a dead one are reaped first.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { Toxiproxy } from 'toxiproxy-node-client';
import type { EnvironmentDescriptor } from '../environment.ts';
import { reapCheckoutContainers } from '../containers/engine.ts';
import { ensureImages, imageFor, imagePathMap, imageTools, type ImageName } from '../containers/images.ts';
import { containerLabels, containerName } from '../containers/labels.ts';
import { placeInContainer } from '../containers/placement.ts';
import { installDirs, keptLogsRoot, labHome, repoRoot, runPaths } from '../paths.ts';
import { canConnect, freePorts } from '../ports.ts';
import { proxyName, proxyPlan } from '../proxies.ts';
import { findInstalledPrerequisites, findObservabilityTools } from '../prerequisites.ts';
import { brokerSpec, controllerSpec, newClusterId, prepareKafka, replicationLinks, type KafkaPlan } from './kafka.ts';
import { defaultShape, shapeDifferences, wantedShape, type LabRequirements } from '../requirements.ts';
import { redisClusterCreateSpec, redisClusterNodePattern, redisClusterNodeSpec, redisClusterNodeName, redisClusterReady, redisClusterSize, type RedisClusterNode } from './redis-cluster.ts';
import { createLabUser, initMariadb, mariadbSpec } from './mariadb.ts';
import { redisSpec } from './redis.ts';
import { ccompatPath, registryAnswers, registrySpec, setGlobalCompatibility } from './registry.ts';
import { keepLogs, latestKeptLogs, tailLines } from './logs.ts';
import { Startup } from './startup.ts';
import { guardName, isAlive, isStopped, Supervisor, type ProcessSpec } from './supervisor.ts';
import { toxiproxySpec } from './toxiproxy.ts';
import {
  alertmanagerSpec, labExporterSpec, mysqldExporterSpec, observabilityPorts, observabilityProcesses, prometheusSpec, redisExporterSpec, writeObservabilityConfig,
  type ObservabilityPlan, type ObservabilityTools,
} from '../../observability/stack.ts';

export const supervisor = new Supervisor(runPaths.pids);

/** Stop order: clients' view first (proxy last so in-flight requests fail fast, not hang). */
export const stopOrder = [guardName, ...observabilityProcesses, 'registry', 'broker-1', 'broker-2', 'broker-3', 'controller', 'mysql', 'redis', 'toxiproxy'];

export interface UpOptions {
  brokers?: number;
  /**
   * `local` (default): native processes. `containers`: the same command lines, each in a container of
   * an image built here (lab/infra/containers), with host networking, on the same 127.0.0.1 ports.
   */
  provider?: 'local' | 'containers';
  /** `persistent` for `lab up`; `ephemeral` when a test run owns the cluster (stopped with it). */
  ownership: 'persistent' | 'ephemeral';
  /** With `ephemeral`: the pid whose death stops the cluster (default: this process). */
  ownerPid?: number;
  log?: (line: string) => void;
  /** Aborting it (Ctrl-C on `lab up`) stops the start-up: what was started is stopped, logs are kept. */
  signal?: AbortSignal;
}

/** A start that failed or was interrupted: its processes are stopped, its logs kept in `logsDir`. */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly logsDir: string | undefined,
    readonly interrupted: boolean,
  ) {
    super(message);
  }
}

export function readDescriptor(): EnvironmentDescriptor | undefined {
  try {
    return JSON.parse(fs.readFileSync(runPaths.descriptor, 'utf8')) as EnvironmentDescriptor;
  } catch {
    return undefined;
  }
}

/** Problems with the running cluster; empty when every process is alive and every endpoint answers. */
export async function clusterProblems(descriptor: EnvironmentDescriptor): Promise<string[]> {
  const problems: string[] = [];
  const expected = [
    'toxiproxy', 'controller', 'mysql', 'redis', 'registry',
    ...descriptor.kafka.brokers.map((b) => `broker-${b.id}`),
    ...(descriptor.redisCluster?.nodes ?? []).map((_, index) => redisClusterNodeName(index + 1)),
    ...(descriptor.observability ? observabilityProcesses : []),
  ];
  for (const name of expected) {
    if (!supervisor.running(name)) problems.push(`${name} is not running`);
    else if (isStopped(supervisor.read(name)!)) problems.push(`${name} is stopped (SIGSTOP, e.g. a run killed mid-fault)`);
  }
  const endpoints: Array<[string, string]> = [
    ...descriptor.kafka.brokers.map((b): [string, string] => [`broker-${b.id} proxy`, b.address]),
    ['mysql proxy', `${descriptor.mysql.host}:${descriptor.mysql.port}`],
    ['redis proxy', `${descriptor.redis.host}:${descriptor.redis.port}`],
    ...(descriptor.observability
      ? [['prometheus', new URL(descriptor.observability.prometheusUrl).host] as [string, string], ['alertmanager', new URL(descriptor.observability.alertmanagerUrl).host] as [string, string]]
      : []),
  ];
  for (const [what, address] of endpoints) {
    const [host = '127.0.0.1', port] = address.split(':');
    if (!(await canConnect(Number(port), host))) problems.push(`${what} ${address} does not accept connections`);
  }
  return problems;
}

/**
 * Stops every process of the run (pid files are the truth) and removes the run dir. `now`: SIGKILL
 * without a grace period, for the guard cleaning up after a dead owner: the cluster was that run's
 * alone and its data goes with the run dir, so a graceful shutdown would only keep ports bound longer.
 */
export async function downLocalCluster(log: (line: string) => void = () => undefined, { now = false }: { now?: boolean } = {}): Promise<string[]> {
  const stopped = await supervisor.stopAll(stopOrder, now ? 0 : undefined);
  for (const name of stopped) log(`stopped ${name}`);
  // Containers whose pid file never got written (a start killed between `docker run` and the record)
  // or was lost: every container labelled with this checkout goes.
  const reaped = await reapCheckoutContainers();
  if (reaped > 0) log(`removed ${reaped} containers of this checkout`);
  fs.rmSync(runPaths.root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  return stopped;
}

export async function upLocalCluster(options: UpOptions): Promise<{ descriptor: EnvironmentDescriptor; reused: boolean }> {
  const log = options.log ?? (() => undefined);
  const provider = options.provider ?? 'local';
  const existing = readDescriptor();
  if (existing && existing.provider === provider && (await clusterProblems(existing)).length === 0) return { descriptor: existing, reused: true };
  if (existing || supervisor.list().length > 0) {
    log(existing && existing.provider !== provider ? `stopping the running ${existing.provider} cluster: ${provider} was asked for` : 'reaping the processes of a previous cluster that is no longer healthy');
    await downLocalCluster(log);
  } else if ((await reapCheckoutContainers()) > 0) {
    log('removed the containers of a previous run that left no pid files');
  }
  const tools = provider === 'containers' ? imageTools : { ...findInstalledPrerequisites(), ...findObservabilityTools() };
  const images = provider === 'containers' ? ensureImages(log) : undefined;
  fs.mkdirSync(runPaths.logs, { recursive: true });
  const startup = new Startup(supervisor, log, options.signal);

  // The guard before anything else: Vitest exits at once on SIGINT/SIGTERM (its own handler calls
  // process.exit, so no teardown and no async handler of ours runs), and a crash runs nothing at all.
  // Only a watcher that already exists when the owner dies can stop what the owner had started so far.
  if (options.ownership === 'ephemeral') await startup.start(guardSpec(options.ownerPid ?? process.pid), relative);

  try {
    const descriptor = await startProcesses(startup, tools, options, images);
    writeDescriptor(descriptor);
    return { descriptor, reused: false };
  } catch (error) {
    startup.abort(error); // a step outside the parallel chains failed: nothing more may start
    // An interrupt also makes steps fail (a terminal's Ctrl-C kills the storage formatter too): say why.
    const interrupted = options.signal?.aborted === true;
    const cause: unknown = interrupted ? options.signal!.reason : error;
    const logsDir = await abandonStart(log);
    const message = cause instanceof Error ? cause.message : String(cause);
    const where = logsDir ? `; logs kept in ${relative(logsDir)}` : '';
    throw new StartupError(`${message}\nstopped what was started${where}`, logsDir, interrupted);
  }
}

/** Stops every process of a failed start and removes its run dir, keeping the logs; returns where. */
async function abandonStart(log: (line: string) => void): Promise<string | undefined> {
  const stopped = await supervisor.stopAll(stopOrder);
  for (const name of stopped) log(`stopped ${name}`);
  await reapCheckoutContainers();
  // A start-up step outside the supervisor (mysql-install-db's bootstrap server, Kafka's storage format)
  // can outlive the abort: a CI run's failed-start found one alive after `lab up` had failed.
  await killProcessesMentioning(runPaths.root);
  const kept = keepLogs(runPaths.logs, keptLogsRoot);
  await removeRunDir();
  return kept;
}

/**
 * Removes the run dir of a failed start. A start-up step killed a moment ago (mysql-install-db's
 * bootstrap server) may still be writing inside it, and rmdir then fails with ENOTEMPTY — Node's own
 * retries (10, ~5 s) were not enough in one CI run of six. Whatever still runs with the run dir on its
 * command line is this run's by construction: it is killed, then the removal is tried again.
 */
async function removeRunDir(): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      fs.rmSync(runPaths.root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOTEMPTY' || attempt >= 5) throw error;
      await killProcessesMentioning(runPaths.root);
    }
  }
}

/** SIGKILLs every process whose command line contains `text` and waits (≤ 5 s) until none is left but zombies. */
async function killProcessesMentioning(text: string): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const alive = processesMentioning(text).filter((pid) => !isZombie(pid));
    if (alive.length === 0 || Date.now() >= deadline) return;
    for (const pid of alive) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true; // gone
  }
}

/** Pids (not this process) whose command line contains `text`, from /proc. */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

/** A path as the user types it: relative inside the checkout, absolute elsewhere (LAB_HOME). */
const relative = (file: string) => (file.startsWith(repoRoot + path.sep) ? path.relative(repoRoot, file) : file);

type Tools = Omit<ReturnType<typeof findInstalledPrerequisites>, 'mariadbClient'> & { mariadbClient: string } & ObservabilityTools;

type Place = (spec: ProcessSpec) => ProcessSpec;

/** The containers provider runs the very same specs, each placed in its component's image. */
function placer(images: Record<ImageName, string> | undefined, runId: string): Place {
  return (spec) =>
    images
      ? placeInContainer(
          spec,
          { image: images[imageFor(spec.name)], name: containerName(labHome, spec.name), labels: containerLabels(labHome, runId, spec.name), mounts: [runPaths.root] },
          imagePathMap(),
        )
      : spec;
}

/** Kafka's ports and settings, kept in the run dir so a later suite can restart Kafka on the same ports. */
const kafkaPlanFile = () => path.join(runPaths.root, 'kafka-plan.json');

function readKafkaPlan(): KafkaPlan | undefined {
  try {
    return JSON.parse(fs.readFileSync(kafkaPlanFile(), 'utf8')) as KafkaPlan;
  } catch {
    return undefined;
  }
}

async function startProcesses(startup: Startup, tools: Tools, options: UpOptions, images?: Record<ImageName, string>): Promise<EnvironmentDescriptor> {
  const brokerCount = options.brokers ?? 3;
  const place = placer(images, newClusterId());
  const run = (spec: ProcessSpec) => startup.run(place(spec));
  const mariadbClient = images ? ['docker', 'exec', containerName(labHome, 'mysql'), tools.mariadbClient] : [tools.mariadbClient];
  const [toxiproxyPort, controllerPort, mysqlPort, mysqlProxyPort, redisPort, redisProxyPort, registryPort, registryManagementPort, registryProxyPort, prometheusPort, alertmanagerPort, mysqldExporterPort, redisExporterPort, labExporterPort, ...brokerPorts] =
    await freePorts(14 + brokerCount * 4);
  const shape = defaultShape;
  const kafkaPlan: KafkaPlan = {
    clusterId: newClusterId(),
    controller: { id: 0, port: controllerPort! },
    brokers: Array.from({ length: brokerCount }, (_, index) => ({
      id: index + 1,
      internalPort: brokerPorts[index * 4]!,
      clientPort: brokerPorts[index * 4 + 1]!,
      proxyPort: brokerPorts[index * 4 + 2]!,
      metricsPort: brokerPorts[index * 4 + 3]!,
    })),
    settings: { controller: shape.kafka.controller, brokers: shape.kafka.brokers },
  };

  const started = (spec: ProcessSpec) => startup.start(place(spec), relative);
  const hint = (name: string) => `see ${relative(runPaths.log(name))}`;

  // 1. Toxiproxy and every proxy first: clients and brokers' advertised addresses point at them.
  await started({ ...toxiproxySpec(toxiproxyPort!), readyPort: toxiproxyPort! });
  await startup.waitFor('toxiproxy', () => canConnect(toxiproxyPort!), { timeoutMs: 15_000, hint: hint('toxiproxy') });
  const toxiproxyUrl = `http://127.0.0.1:${toxiproxyPort}`;
  const proxies = proxyPlan({
    brokers: kafkaPlan.brokers.map((b) => ({ id: b.id, listen: `127.0.0.1:${b.proxyPort}`, upstream: `127.0.0.1:${b.clientPort}` })),
    mysql: { listen: `127.0.0.1:${mysqlProxyPort}`, upstream: `127.0.0.1:${mysqlPort}` },
    redis: { listen: `127.0.0.1:${redisProxyPort}`, upstream: `127.0.0.1:${redisPort}` },
    registry: { listen: `127.0.0.1:${registryProxyPort}`, upstream: `127.0.0.1:${registryPort}` },
  });
  await new Toxiproxy(toxiproxyUrl).populate(proxies);

  const mysqlPassword = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('hex');
  const descriptor: EnvironmentDescriptor = {
    provider: options.provider ?? 'local',
    ownership: options.ownership,
    kafka: {
      brokers: kafkaPlan.brokers.map((b) => ({ id: b.id, address: `127.0.0.1:${b.proxyPort}`, proxy: proxyName.broker(b.id) })),
      controller: `127.0.0.1:${controllerPort}`,
    },
    schemaRegistry: { url: `http://127.0.0.1:${registryProxyPort}${ccompatPath}`, proxy: proxyName.registry },
    mysql: { host: '127.0.0.1', port: mysqlProxyPort!, user: 'lab', password: mysqlPassword, proxy: proxyName.mysql },
    redis: { host: '127.0.0.1', port: redisProxyPort!, proxy: proxyName.redis },
    toxiproxy: { url: toxiproxyUrl },
    processControl: { kind: 'local', runDir: runPaths.root },
    observability: { prometheusUrl: `http://127.0.0.1:${prometheusPort}`, alertmanagerUrl: `http://127.0.0.1:${alertmanagerPort}` },
    namePrefix: 'lab',
    startedAt: new Date().toISOString(),
    shape,
  };
  fs.writeFileSync(kafkaPlanFile(), JSON.stringify(kafkaPlan, null, 2));

  const observability: ObservabilityPlan = {
    prometheusPort: prometheusPort!, alertmanagerPort: alertmanagerPort!, mysqldExporterPort: mysqldExporterPort!, redisExporterPort: redisExporterPort!, labExporterPort: labExporterPort!,
    brokers: kafkaPlan.brokers.map((b) => ({ id: b.id, metricsPort: b.metricsPort! })),
  };

  writeObservabilityConfig(observability, { port: mysqlPort!, user: 'lab', password: mysqlPassword }); // the brokers' JMX agent reads its config from there too

  // 2. The rest in parallel: each component's own chain of steps. The first to fail aborts the others.
  await startup.all([
    // Metrics: nothing here waits for the cluster (exporters connect per scrape or retry), so the stack
    // starts beside it and costs the start-up only its own few hundred milliseconds.
    async () => {
      const specs = [
        alertmanagerSpec(tools.alertmanager, observability),
        prometheusSpec(tools.prometheus, observability),
        redisExporterSpec(tools.redisExporter, observability, redisPort!),
        mysqldExporterSpec(tools.mysqldExporter, observability),
      ];
      for (const spec of specs) await started(spec);
      // The lab exporter is a Node process of the checkout, native under either provider (like services).
      await startup.start(labExporterSpec({
        port: labExporterPort!,
        brokers: kafkaPlan.brokers.map((b) => `127.0.0.1:${b.internalPort}`),
        mysql: { host: '127.0.0.1', port: mysqlPort!, user: 'lab', password: mysqlPassword },
      }), relative);
      await startup.waitFor('the observability stack', async () => (await Promise.all(observabilityPorts(observability).map((port) => canConnect(port)))).every(Boolean), {
        timeoutMs: 60_000, hint: 'see .lab/run/logs/{prometheus,alertmanager,mysqld-exporter,redis-exporter,lab-exporter}.log',
      });
    },
    () => startKafka(startup, place, kafkaPlan, descriptor),
    async () => {
      await initMariadb(tools.mariadbInstallDb, run);
      await started({ ...mariadbSpec(tools.mariadbd, mysqlPort!), readyPort: mysqlPort! });
      await startup.waitFor('MariaDB', () => canConnect(mysqlPort!), { timeoutMs: 60_000, hint: hint('mysql') });
      await createLabUser(mariadbClient, 'lab', mysqlPassword);
      await startup.waitFor('MariaDB through its proxy', () => mysqlAnswers(descriptor), { timeoutMs: 15_000, hint: hint('mysql') });
    },
    async () => {
      fs.mkdirSync(runPaths.data('redis'), { recursive: true });
      await started({ ...redisSpec(tools.redisServer, redisPort!), readyPort: redisPort! });
      await startup.waitFor('Redis through its proxy', () => redisAnswers(descriptor), { timeoutMs: 15_000, hint: hint('redis') });
    },
    async () => {
      await started({ ...registrySpec(registryPort!, registryManagementPort!, tools.registryJava), cwd: installDirs.apicurio(tools.apicurioVersion), readyPort: registryPort! });
      await startup.waitFor('schema registry', () => registryAnswers(descriptor.schemaRegistry.url), { timeoutMs: 180_000, hint: hint('registry') });
      await setGlobalCompatibility(descriptor.schemaRegistry.url, 'BACKWARD');
    },
  ]);
  return descriptor;
}

/** Formats storage, starts the controller and the brokers, waits until all are registered. */
async function startKafka(startup: Startup, place: Place, plan: KafkaPlan, descriptor: EnvironmentDescriptor): Promise<void> {
  await prepareKafka(plan, (spec) => startup.run(place(spec)));
  await startup.start(place({ ...controllerSpec(plan), readyPort: plan.controller.port }), relative);
  await Promise.all(plan.brokers.map((broker) => startup.start(place({ ...brokerSpec(broker.id, broker.metricsPort), readyPort: broker.clientPort }), relative)));
  await waitForBrokers(startup, descriptor, plan.brokers.length);
}

/**
 * Makes the running cluster match what a suite requires (see requirements.ts), before its first test:
 *
 * - Kafka settings or replication links differ: the controller and brokers are stopped, their data
 *   removed, and Kafka started again on the same ports with the wanted settings (a new, empty Kafka
 *   cluster: every suite makes its own topics). Clients' addresses do not change.
 * - Redis Cluster required and not running: its six nodes are started and joined; running and not
 *   required: stopped, so the next suite gets the default cluster.
 *
 * Everything else (Toxiproxy, MariaDB, Redis, the registry) is left as it is. The new shape is recorded
 * in the descriptor; while a change is under way the descriptor records none, so a failed change is
 * never taken for a fitting cluster.
 */
export async function reconcileCluster(requirements: LabRequirements, log: (line: string) => void = () => undefined): Promise<EnvironmentDescriptor> {
  const descriptor = readDescriptor();
  if (!descriptor) throw new Error('no running lab cluster to fit to the suite (the global setup or `npx lab up` starts one)');
  const wanted = wantedShape(requirements);
  const differences = shapeDifferences(descriptor.shape, wanted);
  if (differences.kafka.length === 0 && differences.redisCluster.length === 0) return descriptor;
  const started = Date.now();
  const containers = descriptor.provider === 'containers';
  const images = containers ? ensureImages(log) : undefined;
  const place = placer(images, newClusterId());
  const startup = new Startup(supervisor, log);
  const next: EnvironmentDescriptor = { ...descriptor, kafka: { ...descriptor.kafka }, shape: undefined };
  writeDescriptor(next);
  if (differences.kafka.length > 0) {
    log(`restarting Kafka for this suite: ${differences.kafka.join('; ')}`);
    const plan = readKafkaPlan();
    if (!plan) throw new Error(`the running cluster kept no Kafka plan (${kafkaPlanFile()}): \`npx lab down\` and start again`);
    const toxiproxy = new Toxiproxy(descriptor.toxiproxy!.url);
    await stopKafka(plan);
    for (const link of replicationLinks(plan)) await toxiproxy.get(link.name).then((proxy) => proxy.remove()).catch(() => undefined);
    const replicationPorts = wanted.kafka.replicationLinks ? await freePorts(plan.brokers.length * plan.brokers.length * 2) : [];
    const fitted: KafkaPlan = {
      ...plan,
      clusterId: newClusterId(),
      brokers: plan.brokers.map(({ replication: _, ...broker }, leaderIndex) =>
        wanted.kafka.replicationLinks
          ? {
              ...broker,
              replication: Object.fromEntries(
                plan.brokers.map((follower, followerIndex) => {
                  const at = (leaderIndex * plan.brokers.length + followerIndex) * 2;
                  return [follower.id, { port: replicationPorts[at]!, proxyPort: replicationPorts[at + 1]! }];
                }),
              ),
            }
          : broker,
      ),
      settings: { controller: wanted.kafka.controller, brokers: wanted.kafka.brokers },
    };
    const links = replicationLinks(fitted);
    if (links.length > 0) await toxiproxy.populate(links.map(({ name, listen, upstream }) => ({ name, listen, upstream, enabled: true })));
    fs.writeFileSync(kafkaPlanFile(), JSON.stringify(fitted, null, 2));
    if (links.length > 0) next.kafka.replicationLinks = links.map(({ follower, leader, name }) => ({ follower, leader, proxy: name }));
    else delete next.kafka.replicationLinks;
    await startKafka(startup, place, fitted, next);
  }
  if (differences.redisCluster.length > 0) {
    log(`${wanted.redisCluster ? 'starting' : 'stopping'} Redis Cluster for this suite`);
    if (wanted.redisCluster) {
      const tools = containers ? imageTools : findInstalledPrerequisites();
      next.redisCluster = await startRedisCluster(startup, place, tools.redisServer, tools.redisCli);
    } else {
      await stopRedisCluster();
      delete next.redisCluster;
    }
  }
  next.shape = wanted;
  writeDescriptor(next);
  log(`cluster fitted to the suite in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return next;
}

function writeDescriptor(descriptor: EnvironmentDescriptor): void {
  fs.writeFileSync(runPaths.descriptor, JSON.stringify(descriptor, null, 2), { mode: 0o600 });
}

async function stopKafka(plan: KafkaPlan): Promise<void> {
  // No grace: the data goes with them, a clean shutdown would only cost time (brokers first, as ever).
  await Promise.all(plan.brokers.map((broker) => supervisor.stop(`broker-${broker.id}`, 0)));
  await supervisor.stop('controller', 0);
  for (const name of ['controller-0', ...plan.brokers.map((broker) => `broker-${broker.id}`)]) fs.rmSync(runPaths.data(name), { recursive: true, force: true });
}

async function startRedisCluster(startup: Startup, place: Place, server: string, cli: string): Promise<NonNullable<EnvironmentDescriptor['redisCluster']>> {
  const ports = await freePorts(redisClusterSize * 2);
  const nodes: RedisClusterNode[] = Array.from({ length: redisClusterSize }, (_, index) => ({ index: index + 1, port: ports[index * 2]!, busPort: ports[index * 2 + 1]! }));
  for (const node of nodes) {
    const spec = redisClusterNodeSpec(server, node);
    fs.rmSync(runPaths.data(spec.name), { recursive: true, force: true });
    fs.mkdirSync(runPaths.data(spec.name), { recursive: true });
    await startup.start(place(spec), relative);
  }
  await startup.waitFor('Redis Cluster nodes', async () => (await Promise.all(nodes.map((node) => canConnect(node.port)))).every(Boolean), { timeoutMs: 30_000, hint: 'see .lab/run/logs/redis-cluster-*.log' });
  await startup.run(place(redisClusterCreateSpec(cli, nodes)));
  const endpoints = nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
  await startup.waitFor('Redis Cluster state ok, all slots covered', () => redisClusterReady(endpoints), { timeoutMs: 60_000, intervalMs: 500, hint: 'see .lab/run/logs/redis-cluster-create.log' });
  return { nodes: endpoints };
}

async function stopRedisCluster(): Promise<void> {
  const nodes = supervisor.list().map((record) => record.spec.name).filter((name) => redisClusterNodePattern.test(name));
  await Promise.all(nodes.map((name) => supervisor.stop(name, 0)));
  for (const name of nodes) fs.rmSync(runPaths.data(name), { recursive: true, force: true });
}

/** Every broker registered and reachable through its proxy (metadata lists them all). */
async function waitForBrokers(startup: Startup, descriptor: EnvironmentDescriptor, count: number): Promise<void> {
  const kafka = new Kafka({
    clientId: 'lab-health',
    brokers: descriptor.kafka.brokers.map((b) => b.address),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    retry: { retries: 0 },
  });
  await startup.waitFor(
    `${count} Kafka brokers`,
    async () => {
      const admin = kafka.admin();
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        return cluster.brokers.length === count;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
    { timeoutMs: 180_000, intervalMs: 500, hint: 'see .lab/run/logs/broker-*.log and controller.log' },
  );
}

async function mysqlAnswers(descriptor: EnvironmentDescriptor): Promise<boolean> {
  const { host, port, user, password } = descriptor.mysql;
  const connection = await mysql.createConnection({ host, port, user, password, connectTimeout: 1000 });
  try {
    await connection.query('SELECT 1');
    return true;
  } finally {
    await connection.end();
  }
}

async function redisAnswers(descriptor: EnvironmentDescriptor): Promise<boolean> {
  const client = new Redis({ host: descriptor.redis.host, port: descriptor.redis.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined); // surfaced by connect()/ping() below
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } finally {
    client.disconnect();
  }
}

/** lab/infra/local/guard.sh, which stops the cluster (and orphaned test workers) when the owner dies. */
function guardSpec(ownerPid: number): ProcessSpec {
  return {
    name: guardName,
    command: 'bash',
    args: [path.join(repoRoot, 'lab', 'infra', 'local', 'guard.sh'), String(ownerPid), process.execPath, path.join(repoRoot, 'tools', 'lab-cli', 'lab.mjs'), runPaths.pids],
    env: { LAB_GUARD_DOWN: '1' },
    logFile: runPaths.log(guardName),
  };
}

export { isAlive };

/** Whether `mariadb`/`redis`/`java` etc. were found: used by `lab status`. */
export function describeProcesses(): Array<{ name: string; pid: number; alive: boolean; paused: boolean; log: string; container?: string }> {
  return supervisor.list().map((record) => ({
    name: record.spec.name,
    pid: record.pid,
    alive: isAlive(record),
    paused: isAlive(record) && isStopped(record),
    log: record.spec.logFile,
    ...(record.spec.container ? { container: record.spec.container.name } : {}),
  }));
}

/** The last lines of a process's log: the running cluster's, else the newest failed start's. */
export function tailLog(name: string, lines = 60): string {
  const file = runPaths.log(name);
  if (fs.existsSync(file)) return `${tailLines(file, lines)}\n`;
  const kept = latestKeptLogs(keptLogsRoot);
  const keptFile = kept && path.join(kept, `${name}.log`);
  if (keptFile && fs.existsSync(keptFile)) return `(no cluster running: the log of the failed start in ${relative(kept)})\n${tailLines(keptFile, lines)}\n`;
  const known = fs.existsSync(runPaths.logs) ? fs.readdirSync(runPaths.logs).map((f) => f.replace(/\.log$/, '')).join(', ') : 'none, is the cluster up?';
  throw new Error(`no log for '${name}' (known: ${known})`);
}
