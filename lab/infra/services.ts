/**
 * Running the wallet services from suites: config built from the lab environment, a migrated database
 * per suite, and a service as its own OS process (so an experiment can SIGKILL it, or arm a `crash`
 * failpoint in it). Service processes are recorded in the run's pid files like the cluster's, so
 * `lab down` and the guard stop them too; they also exit when the test worker that started them dies.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CommonConfig } from '../../src/config.ts';
import { migrate } from '../../src/db/migrate.ts';
import { topicNames } from '../../src/kafka/topics.ts';
import type { LabEnvironment } from './environment.ts';
import { createDatabase, type IsolatedDatabase } from './isolation.ts';
import { isAlive, Supervisor, type ProcessRecord } from './local/supervisor.ts';
import { repoRoot, runPaths } from './paths.ts';
import { sleep, waitFor } from './ports.ts';

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
  pid: number;
  /** Lines of the service's log (stdout and stderr). */
  log(): string;
  isRunning(): boolean;
  kill(): Promise<void>;
  /** SIGTERM and wait (graceful stop). */
  stop(): Promise<void>;
  /** Resolves when the process has exited (by a crash failpoint, a kill or a stop). */
  exited(timeoutMs?: number): Promise<void>;
}

const supervisor = new Supervisor(runPaths.pids);
let counter = 0;

export async function startServiceProcess(
  service: string,
  config: object,
  options: { failpoints?: string; failpointLog?: string; env?: Record<string, string> } = {},
): Promise<ServiceProcess> {
  counter += 1;
  // Unique across test files: Vitest re-imports this module per file in the same worker, so a counter
  // alone repeats, and a reused log file would hand us an earlier (dead) process's ready line.
  const name = `svc-${service}-${process.pid}-${Date.now().toString(36)}-${counter}`;
  const logFile = runPaths.log(name);
  fs.rmSync(logFile, { force: true });
  const record: ProcessRecord = supervisor.start({
    name,
    command: process.execPath,
    args: [path.join(repoRoot, 'tools', 'lab-cli', 'lab.mjs'), 'service', service],
    env: {
      LAB_SERVICE_CONFIG: JSON.stringify(config),
      ...(options.failpoints ? { LAB_FAILPOINTS: options.failpoints } : {}),
      ...(options.failpointLog ? { LAB_FAILPOINT_LOG: options.failpointLog } : {}),
      ...options.env,
    },
    logFile,
  });
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  let url = '';
  await waitFor(
    `service ${service} to report ready`,
    async () => {
      const ready = log()
        .split('\n')
        .map((line) => (line.startsWith('{"ready":true') ? (JSON.parse(line) as { url: string }) : undefined))
        .find(Boolean);
      if (ready) url = ready.url;
      if (!ready && !isAlive(record)) throw new Error(`service ${service} exited during start:\n${log().slice(-3000)}`);
      return Boolean(ready);
    },
    { timeoutMs: 60_000, intervalMs: 100, hint: `see ${logFile}` },
  );
  const exited = async (timeoutMs = 30_000) => waitFor(`${name} to exit`, async () => !isAlive(record), { timeoutMs, intervalMs: 50 });
  return {
    name,
    url,
    pid: record.pid,
    log,
    isRunning: () => isAlive(record),
    kill: async () => {
      if (isAlive(record)) process.kill(-record.pid, 'SIGKILL');
      await exited();
      await supervisor.stop(name, 0);
    },
    stop: async () => {
      await supervisor.stop(name, 10_000);
      while (isAlive(record)) await sleep(20);
    },
    exited,
  };
}
