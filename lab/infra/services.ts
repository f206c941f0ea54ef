/**
 * Running the wallet services from suites: config built from the lab environment, a migrated database
 * per suite, and a service as its own OS process (so an experiment can SIGKILL it, or arm a `crash`
 * failpoint in it). Service processes are recorded in the run's pid files like the cluster's, so
 * `lab down` and the guard stop them too; they also exit when the test worker that started them dies.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { migrate, topicNames, type CommonConfig, type ServiceConfigs, type ServiceName } from '../../src/contract.ts';
import type { LabEnvironment } from './environment.ts';
import { createDatabase, type IsolatedDatabase } from './isolation.ts';
import { isAlive, procStartTime, Supervisor, type ProcessExit, type ProcessRecord } from './local/supervisor.ts';
import { repoRoot, runPaths } from './paths.ts';
import { serviceTargets } from '../observability/stack.ts';
import { sleep, waitFor } from './ports.ts';
import { chosenRuntime, serviceCommand, type Runtime } from './runtimes.ts';

/** A fresh database with the wallet schema applied. */
export async function createMigratedDatabase(env: LabEnvironment, id: string): Promise<IsolatedDatabase> {
  const database = await createDatabase(env, id);
  await migrate({ ...mysqlOf(env), database: database.name });
  return database;
}

export function mysqlOf(env: LabEnvironment) {
  const { host, port, user, password } = env.descriptor.mysql;
  return { host, port, user, password };
}

/** The config every service shares, for one suite's database and topic prefix. */
export function commonConfig(env: LabEnvironment, options: { database: string; topicPrefix: string; retryDelaysMs?: number[] }): CommonConfig {
  return {
    mysql: { ...mysqlOf(env), database: options.database },
    kafka: { brokers: env.brokers },
    schemaRegistryUrl: env.descriptor.schemaRegistry.url,
    topics: topicNames(options.topicPrefix, options.retryDelaysMs),
  };
}

export function redisOf(env: LabEnvironment, keyPrefix: string) {
  const { host, port, password } = env.descriptor.redis;
  return { host, port, ...(password ? { password } : {}), keyPrefix };
}

export interface ServiceProcess {
  name: string;
  url: string;
  /** What the service reported running on, e.g. `bun 1.4.5`. */
  runtime: string;
  pid: number;
  /** Lines of the service's log (stdout and stderr). */
  log(): string;
  isRunning(): boolean;
  /** How it exited (code or signal), once it has; undefined while it runs. */
  exitStatus(): ProcessExit | undefined;
  kill(): Promise<void>;
  /** SIGTERM and wait (graceful stop). */
  stop(): Promise<void>;
  /** Resolves when the process has exited (by a crash failpoint, a kill or a stop). */
  exited(timeoutMs?: number): Promise<void>;
}

const supervisor = new Supervisor(runPaths.pids);
let counter = 0;
/** tsx's ESM hooks, by absolute URL: `--import tsx` would resolve against the cwd of whoever runs us. */
const tsxEsm = pathToFileURL(createRequire(path.join(repoRoot, 'package.json')).resolve('tsx/esm')).href;
const serviceEntry = path.join(repoRoot, 'src', 'services', 'bin.ts');
/**
 * V8's semi-space cap (MB). Node's default lets the young generation grow to 2 × 16 MB, and a service
 * that only polls (a relay, an idle consumer) still fills it: ~30 MB of a ~115 MB idle service was new
 * space (v8.getHeapSpaceStatistics), and the consumer idled at 127–131 MB. 4 MB keeps an idle service at
 * 85–110 MB (tools/service-rss.ts; 8 MB: 88–115). The price is about twice as many scavenges: the
 * command-service under 100–335 commands/s paused for GC 2–5 % of its life instead of 1.5–3 % (--trace-gc,
 * at load 13–17), its request garbage dying young either way.
 */
const youngGenerationMb = 4;

/**
 * `config` with no key that `Config` lacks. TypeScript checks an object literal's keys by itself; this
 * also rejects a config built elsewhere (a variable, a spread) that carries a misspelt or foreign key,
 * which JSON would otherwise hand to the service to ignore silently.
 */
export type Exactly<Config, C> = C & Record<Exclude<keyof C, keyof Config>, never>;

/**
 * Starts service `service` as its own OS process with `config` (its type follows from the name:
 * `ServiceConfigs` in src/contract.ts), optionally with failpoints armed from the start (LAB_FAILPOINTS
 * syntax) and a failpoint log its crashes are written to.
 */
export async function startServiceProcess<N extends ServiceName, C extends ServiceConfigs[N]>(
  service: N,
  config: Exactly<ServiceConfigs[N], C>,
  options: { failpoints?: string; failpointLog?: string; env?: Record<string, string>; runtime?: Runtime } = {},
): Promise<ServiceProcess> {
  counter += 1;
  // Unique across test files: Vitest re-imports this module per file in the same worker, so a counter
  // alone repeats, and a reused log file would hand us an earlier (dead) process's ready line.
  const name = `svc-${service}-${process.pid}-${Date.now().toString(36)}-${counter}`;
  const logFile = runPaths.log(name);
  fs.rmSync(logFile, { force: true });
  // One Node process per service (plus tsx's esbuild helper, which it starts on the first transform and
  // which exits with it), spawned directly rather than through `npx lab service` (three Node processes).
  // Only the ESM hooks (`tsx/esm`): the services are ESM, nothing require()s a .ts file.
  const ownerStartTime = procStartTime(process.pid);
  const runtime = options.runtime ?? chosenRuntime();
  let exitStatus: ProcessExit | undefined;
  let onExit: () => void = () => undefined;
  const exitHeard = new Promise<void>((resolve) => (onExit = resolve));
  const record: ProcessRecord = supervisor.start({
    name,
    ...serviceCommand(runtime, serviceEntry, service, { execPath: process.execPath, args: [`--max-semi-space-size=${youngGenerationMb}`, '--import', tsxEsm] }),
    cwd: repoRoot,
    env: {
      LAB_SERVICE_CONFIG: JSON.stringify(config),
      // The owner is this test worker, whatever LAB_OWNER_PID we inherited (under `npx lab run` it names
      // the shell that ran `lab`, which outlives a crashed worker).
      LAB_OWNER_PID: String(process.pid),
      LAB_OWNER_START_TIME: ownerStartTime ?? '',
      ...(options.failpoints ? { LAB_FAILPOINTS: options.failpoints } : {}),
      ...(options.failpointLog ? { LAB_FAILPOINT_LOG: options.failpointLog } : {}),
      ...options.env,
    },
    logFile,
  }, (code, signal) => {
    exitStatus = { code, signal };
    onExit();
  });
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  const readyLine = () =>
    log()
      .split('\n')
      .map((line) => (line.startsWith('{"ready":true') ? (JSON.parse(line) as { url: string; runtime?: string }) : undefined))
      .find(Boolean);
  let url = '';
  try {
    await waitFor(
      `service ${service} to report ready`,
      async () => {
        url = readyLine()?.url ?? '';
        return url !== '';
      },
      // A process that died while starting fails the wait at once (a throwing probe would only be
      // reported when the 60 s ran out).
      { timeoutMs: 60_000, intervalMs: 100, hint: `see ${logFile}`, giveUp: () => (isAlive(record) || readyLine() ? undefined : 'exited') },
    );
  } catch (error) {
    const died = !isAlive(record);
    // /proc may show the exit (a zombie) a moment before Node reaps the child and reports its status.
    if (died) await Promise.race([exitHeard, sleep(1000)]);
    await supervisor.stop(name, 0); // a service that never became ready is of no use: no orphan, no pid file
    if (!died) throw error;
    const how = exitStatus ? (exitStatus.signal ? ` (${exitStatus.signal})` : ` (code ${exitStatus.code})`) : '';
    throw new Error(`service ${service} exited during start${how}:\n${log().slice(-3000)}`);
  }
  // The service says what runs it: a LAB_RUNTIME run whose services silently ran on Node would prove nothing.
  const reported = readyLine()?.runtime ?? 'unknown';
  if (!reported.startsWith(`${runtime} `)) {
    await supervisor.stop(name, 0);
    throw new Error(`service ${service} runs on ${reported}, not on ${runtime} (LAB_RUNTIME)`);
  }
  // Scraped by the lab's Prometheus (file_sd) while it runs; the file goes when it exits however it does.
  serviceTargets.prune((other) => supervisor.running(other));
  serviceTargets.write(name, url, service);
  void exitHeard.then(() => serviceTargets.remove(name));
  const exited = async (timeoutMs = 30_000) => waitFor(`${name} to exit`, async () => !isAlive(record), { timeoutMs, intervalMs: 50 });
  return {
    name,
    url,
    runtime: reported,
    pid: record.pid,
    log,
    isRunning: () => isAlive(record),
    exitStatus: () => exitStatus,
    kill: async () => {
      if (isAlive(record)) process.kill(-record.pid, 'SIGKILL');
      await exited();
      serviceTargets.remove(name);
      await supervisor.stop(name, 0);
    },
    stop: async () => {
      await supervisor.stop(name, 10_000);
      while (isAlive(record)) await sleep(20);
      serviceTargets.remove(name);
    },
    exited,
  };
}
