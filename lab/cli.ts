/**
 * `npx lab <command>`: the lab's own CLI.
 *
 *   lab up [--brokers N]   start the cluster (or reuse a healthy one) and leave it running: native processes
 *                          (local) or the same processes in containers (containers), see `lab status`
 *   lab down [--now]       stop every process the lab started; no process and no bound port remain
 *                          (--now: SIGKILL at once, no graceful shutdown; what the guard uses)
 *   lab status             provider (and why), processes, endpoints, health
 *   lab logs <proc> [-n N] last lines of a process's log (broker-1, controller, mysql, redis, registry, toxiproxy)
 *   lab env                the environment descriptor as JSON (endpoints for your own tools)
 *   lab service <name>     run one service as its own process (config: JSON in LAB_SERVICE_CONFIG)
 *   lab run [e-001 …]      run lab suites (all without arguments) into reports/<run>/ with report.json
 *                          and report.html; reports/latest then points at it
 *   lab schema check|diff|register [subject=file …] [--level L] [--registry URL]
 *                          the schema gate (lab/schema/gate.ts): exit 0 compatible, 1 breaking, 2 undecided
 *   lab console [--port N] a local web page: topics (leader, ISR, LEO/HW/LSO), groups and lag, the DLQ decoded,
 *                          the outbox backlog, Prometheus panels, alerts, the fault log (lab/console)
 *   lab observability generate
 *                          write the recording rules and the Grafana dashboard from lab/observability/signals.ts
 *   lab chaos broker stop|start|kill|pause|resume <n> | link delay <target> <ms> | link cut|heal <target>
 *             | service kill <name> | heal all
 *                          faults on the running cluster through the nemesis, logged to the run dir's fault
 *                          log that `lab status` shows (lab/nemesis/chaos.ts)
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultShape, shapeDifferences } from './infra/requirements.ts';
import { clusterProblems, describeProcesses, downLocalCluster, readDescriptor, StartupError, supervisor, tailLog, upLocalCluster } from './infra/local/cluster.ts';
import { connectEnvironment } from './infra/connect.ts';
import { ChaosUsageError, faultLogFile, parseChaos, readFaultLog, runChaos, type ChaosAction } from './nemesis/chaos.ts';
import { repoRoot } from './infra/paths.ts';
import { explainProvider } from './infra/providers/index.ts';
import { runSuites } from './report/run.ts';
import { levels, type Level } from './schema/compatibility.ts';
import { check, diff, GateError, register, RegistryApi, targets } from './schema/gate.ts';

const usage = `usage: npx lab <up [--brokers N] | down [--now] | status | logs <process> [-n N] | env | service <name> | run [e-001 …] | schema check|diff|register [subject=file …] [--level L] [--registry URL] | console [--port N] | observability generate | chaos …>`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { port: { type: 'string' }, brokers: { type: 'string' }, n: { type: 'string', short: 'n' }, quiet: { type: 'boolean' }, now: { type: 'boolean' }, level: { type: 'string' }, registry: { type: 'string' } },
  });
  const say = values.quiet ? () => undefined : (line: string) => console.log(line);
  switch (command) {
    case 'up': {
      const started = Date.now();
      // Ctrl-C while starting: abort the start-up, which stops what it started so far (keeping the logs)
      // once no step is still starting something, instead of leaving half a cluster.
      const interrupt = new AbortController();
      const onSignal = (signal: NodeJS.Signals) => {
        console.error(`\n${signal}: stopping what was started`);
        interrupt.abort(new Error(`interrupted by ${signal}`));
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const { provider, reason } = explainProvider();
      if (provider === 'external') {
        console.error(`provider external (${reason}): the lab does not start that cluster`);
        return 1;
      }
      say(`provider ${provider} (${reason})`);
      try {
        const { descriptor, reused } = await upLocalCluster({
          provider,
          ownership: 'persistent',
          brokers: values.brokers ? Number(values.brokers) : 3,
          log: say,
          signal: interrupt.signal,
        });
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        say(reused ? `cluster already running (started ${descriptor.startedAt})` : `cluster ready in ${seconds} s`);
        printEndpoints(say);
      } catch (error) {
        // A StartupError has already stopped what was started and says where its logs are.
        console.error(error instanceof Error ? error.message : String(error));
        return error instanceof StartupError && error.interrupted ? 130 : 1;
      }
      return 0;
    }
    case 'down': {
      const stopped = await downLocalCluster(say, { now: values.now === true });
      say(stopped.length ? `stopped ${stopped.length} processes` : 'nothing was running');
      return 0;
    }
    case 'status': {
      const choice = explainProvider();
      const running = readDescriptor()?.provider;
      say(`provider ${choice.provider} (${choice.reason})${running && running !== choice.provider ? `; the running cluster is ${running}` : ''}`);
      const processes = describeProcesses();
      if (processes.length === 0) {
        say('no cluster (start one with `npx lab up`)');
        return 1;
      }
      for (const proc of processes) {
        const where = proc.container ? `  container ${proc.container}` : '';
        say(`${proc.alive ? (proc.paused ? 'PAUSED' : 'up    ') : 'DOWN  '}  ${proc.name.padEnd(15)} pid ${String(proc.pid).padEnd(8)} log ${path.relative(repoRoot, proc.log)}${where}`);
      }
      const descriptor = readDescriptor();
      if (!descriptor) {
        say('cluster is starting or failed to start (no descriptor yet)');
        return 1;
      }
      printEndpoints(say);
      // What the last suite required of it, next to the default (it stays so until a suite wants otherwise).
      const shape = shapeDifferences(defaultShape, descriptor.shape ?? defaultShape);
      const changes = [...shape.kafka, ...shape.redisCluster];
      say(descriptor.shape ? (changes.length ? `shape: as the last suite required it (default value, then its: ${changes.join('; ')})` : 'shape: default') : 'shape: not recorded (the next suite restarts Kafka)');
      const faults = readFaultLog();
      if (faults.length) {
        say(`fault log (${path.relative(repoRoot, faultLogFile())}, last ${Math.min(10, faults.length)} of ${faults.length}):`);
        for (const f of faults.slice(-10)) say(`  ${f.at}  ${f.action.padEnd(14)} ${f.target}${f.detail !== undefined ? `  ${JSON.stringify(f.detail)}` : ''}`);
      }
      const problems = await clusterProblems(descriptor);
      for (const problem of problems) say(`problem: ${problem}`);
      return problems.length ? 1 : 0;
    }
    case 'logs': {
      const name = positionals[0];
      if (!name) throw new Error(`which process? ${usage}`);
      process.stdout.write(tailLog(name, values.n ? Number(values.n) : 60));
      return 0;
    }
    case 'env': {
      const descriptor = readDescriptor();
      if (!descriptor) {
        console.error('no cluster (start one with `npx lab up`)');
        return 1;
      }
      console.log(JSON.stringify(descriptor, null, 2));
      return 0;
    }
    case 'service': {
      const name = positionals[0];
      if (!name) throw new Error(`which service? ${usage}`);
      const { runService } = await import('../src/contract.ts');
      await runService(name);
      return new Promise<number>(() => undefined); // runs until signalled
    }
    case 'run':
      return runSuites(positionals);
    case 'schema':
      return schemaGate(positionals, values);
    case 'console': {
      const descriptor = readDescriptor();
      if (!descriptor) {
        console.error('no cluster: start one with `npx lab up`');
        return 1;
      }
      const { connectEnvironment } = await import('./infra/connect.ts');
      const { startConsole } = await import('./console/server.ts');
      const running = await startConsole(connectEnvironment(descriptor), { port: values.port ? Number(values.port) : 0 });
      say(`lab console: ${running.url}  (Ctrl-C stops it)`);
      return new Promise<number>((resolve) => {
        const stop = () => void running.close().then(() => resolve(0));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    }
    case 'chaos':
      return chaos(rest, say);
    case 'observability': {
      if (positionals[0] !== 'generate') throw new Error('usage: npx lab observability generate');
      const { writeGenerated } = await import('./observability/generated.ts');
      const written = writeGenerated();
      say(written.length ? written.map((file) => `wrote ${path.relative(repoRoot, file)}`).join('\n') : 'generated files are up to date');
      return 0;
    }
    default:
      console.error(usage);
      return command ? 2 : 0;
  }
}

/** `lab chaos …`: 2 for a wrong command line, 1 when the fault could not be carried out. */
async function chaos(words: string[], say: (line: string) => void): Promise<number> {
  let action: ChaosAction;
  try {
    action = parseChaos(words);
  } catch (error) {
    if (!(error instanceof ChaosUsageError)) throw error;
    console.error(`lab chaos: ${error.message}`);
    return 2;
  }
  const descriptor = readDescriptor();
  if (!descriptor) {
    console.error('lab chaos: no cluster (start one with `npx lab up`)');
    return 1;
  }
  try {
    for (const line of await runChaos(action, connectEnvironment(descriptor), supervisor, descriptor)) say(line);
    return 0;
  } catch (error) {
    if (!(error instanceof ChaosUsageError)) throw error;
    console.error(`lab chaos: ${error.message}`);
    return 2;
  }
}

/** `lab schema …`: a GateError (no registry, invalid schema, bad argument) is exit 2, never a pass. */
async function schemaGate([action, ...rest]: string[], options: { level?: string; registry?: string }): Promise<number> {
  try {
    const actions = { check, diff, register };
    if (!action || !(action in actions)) throw new GateError(`lab schema check|diff|register [subject=file …] [--level ${levels.join('|')}] [--registry URL]`);
    if (options.level !== undefined && !levels.includes(options.level as Level)) throw new GateError(`--level ${options.level} is not one of ${levels.join(', ')}`);
    const url = options.registry ?? process.env.LAB_SCHEMA_REGISTRY_URL ?? readDescriptor()?.schemaRegistry.url;
    if (!url) throw new GateError('no schema registry: pass --registry URL, set LAB_SCHEMA_REGISTRY_URL, or start the lab (`npx lab up`)');
    const list = targets(rest, repoRoot);
    const say = (line: string) => console.log(line);
    const registry = new RegistryApi(url);
    return action === 'check' ? await check(registry, list, say, options.level as Level | undefined) : await actions[action as 'diff' | 'register'](registry, list, say);
  } catch (error) {
    if (!(error instanceof GateError)) throw error;
    console.error(`lab schema: ${error.message}`);
    return 2;
  }
}

function printEndpoints(say: (line: string) => void): void {
  const descriptor = readDescriptor();
  if (!descriptor) return;
  say(`  kafka     ${descriptor.kafka.brokers.map((b) => b.address).join(',')}  (through Toxiproxy)`);
  say(`  registry  ${descriptor.schemaRegistry.url}`);
  say(`  mysql     ${descriptor.mysql.user}@${descriptor.mysql.host}:${descriptor.mysql.port}  (password: npx lab env)`);
  say(`  redis     ${descriptor.redis.host}:${descriptor.redis.port}`);
  if (descriptor.redisCluster) say(`  redis cluster ${descriptor.redisCluster.nodes.map((node) => `${node.host}:${node.port}`).join(',')}`);
  if (descriptor.kafka.replicationLinks) say(`  replication through ${descriptor.kafka.replicationLinks.length} proxies (replication-<follower>-from-<leader>)`);
  say(`  toxiproxy ${descriptor.toxiproxy?.url ?? '-'}`);
  if (descriptor.observability) say(`  prometheus ${descriptor.observability.prometheusUrl}  alertmanager ${descriptor.observability.alertmanagerUrl}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
