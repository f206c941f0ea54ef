/**
 * Memory of idle service processes, as suites start them (`startServiceProcess`), against the running
 * `lab up` cluster (issue 8):
 *
 *   npx tsx tools/service-rss.ts [idle seconds, default 15] [service …, default command relay consumer query]
 *
 * Starts each service as its own process on a fresh database and topic set, waits until it is idle,
 * then prints VmRSS of every process in its tree (the service process and whatever it started: under
 * tsx, esbuild's helper) and the sum. A service's cost is the whole tree: a wrapper or helper process
 * is memory the machine pays whatever it is called.
 */
import fs from 'node:fs';
import { connectEnvironment } from '../lab/infra/connect.ts';
import { kafka } from '../lab/infra/clients.ts';
import { deleteTopicsWithPrefix, isolationId } from '../lab/infra/isolation.ts';
import { readDescriptor } from '../lab/infra/local/cluster.ts';
import { sleep } from '../lab/infra/ports.ts';
import { commonConfig, createMigratedDatabase, redisOf, startServiceProcess, type ServiceProcess } from '../lab/infra/services.ts';
import { ensureTopics, isServiceName, type ServiceConfigs, type ServiceName } from '../src/contract.ts';

const [idleArg = '15', ...requested] = process.argv.slice(2);
const idleMs = Number(idleArg) * 1000;
const unknown = requested.filter((name) => !isServiceName(name));
if (unknown.length) throw new Error(`unknown service(s): ${unknown.join(', ')}`);
const services = (requested.length ? requested : ['command', 'relay', 'consumer', 'query']) as ServiceName[];
const descriptor = readDescriptor();
if (!descriptor) throw new Error('no cluster: run `npx lab up` first');
const env = connectEnvironment(descriptor);

/** The pid and its descendants (through /proc/<pid>/task/<tid>/children), depth first. */
function tree(pid: number): number[] {
  const children: number[] = [];
  try {
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      const listed = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (listed) children.push(...listed.split(' ').map(Number));
    }
  } catch {
    return [];
  }
  return [pid, ...children.flatMap(tree)];
}

function status(pid: number): { name: string; rssKb: number; threads: number } {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => text.match(new RegExp(`^${name}:\\s+(.*)$`, 'm'))?.[1] ?? '';
  return { name: field('Name'), rssKb: parseInt(field('VmRSS'), 10) || 0, threads: Number(field('Threads')) };
}

function cmdline(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).map((part) => part.replace(/^.*\/node_modules\//, '…/')).join(' ').slice(0, 110);
}

const id = isolationId(env, 'rss');
const database = await createMigratedDatabase(env, id);
const admin = kafka(env, `${id}-admin`).admin();
await admin.connect();
const config = commonConfig(env, { database: database.name, topicPrefix: `${id}.` });
await ensureTopics(admin, config.topics);
const configs: { [N in ServiceName]?: ServiceConfigs[N] } = {
  command: { ...config, mode: 'outbox' },
  relay: { ...config, relayId: 'rss' },
  consumer: { ...config, groupId: `${id}.projection`, redis: redisOf(env, `${id}:`) },
  query: { mysql: config.mysql, redis: redisOf(env, `${id}:`) },
};
const started: ServiceProcess[] = [];
const mb = (kb: number) => (kb / 1024).toFixed(1);
try {
  for (const service of services) started.push(await startServiceProcess(service, configs[service] ?? (config as never)));
  await sleep(idleMs);
  console.log(`idle ${idleMs / 1000} s; VmRSS from /proc/<pid>/status, summed over each service's process tree`);
  for (const [i, service] of started.entries()) {
    const pids = tree(service.pid);
    const rows = pids.map((pid) => ({ pid, ...status(pid), cmd: cmdline(pid) }));
    const total = rows.reduce((sum, row) => sum + row.rssKb, 0);
    console.log(`${services[i]!.padEnd(9)} ${mb(total).padStart(6)} MB in ${rows.length} process(es)`);
    for (const row of rows) console.log(`    pid ${String(row.pid).padEnd(8)} ${mb(row.rssKb).padStart(6)} MB  ${String(row.threads).padStart(2)} threads  ${row.cmd}`);
  }
} finally {
  for (const service of started) await service.stop().catch(() => undefined);
  await deleteTopicsWithPrefix(admin, id).catch(() => undefined);
  await admin.disconnect();
  await database.drop();
}
