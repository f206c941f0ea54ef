/**
 * `npx lab chaos …` (B-0332): the nemesis from the shell, on a running `lab up` cluster.
 *
 *   lab chaos broker stop|start|kill|pause|resume <n>   SIGTERM (waited) | restart | SIGKILL | SIGSTOP | SIGCONT
 *   lab chaos link delay <target> <ms>                  latency on a Toxiproxy link (replaces its toxics)
 *   lab chaos link cut|heal <target>                    link disabled | toxics removed and enabled
 *   lab chaos service kill <name>                       SIGKILL a service process (svc-<name>-…, or its full name)
 *   lab chaos heal all                                  every link healed, every paused process resumed,
 *                                                       every dead cluster process restarted
 *
 * A link target is a proxy name (`broker-2`, `mysql`, `redis`, `registry`, `replication-3-from-1`). Faults
 * go through the suites' own code: the Nemesis (Toxiproxy, ProcessControl) and the supervisor's pid files.
 * The CLI is a new process each time, so no fault is remembered in memory: healing reads the state of the
 * cluster itself (Toxiproxy's proxies and toxics, the processes' states). Every action is appended to the
 * fault log in the run dir (JSON lines: at, action, target, detail), which `lab status` shows.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { EnvironmentDescriptor, LabEnvironment, ProcessTarget } from '../infra/environment.ts';
import { isStopped, type Supervisor } from '../infra/local/supervisor.ts';
import { runPaths } from '../infra/paths.ts';
import { setLinkEnabled } from './links.ts';
import { Nemesis } from './nemesis.ts';

export type ChaosAction =
  | { kind: 'broker'; verb: 'stop' | 'start' | 'kill' | 'pause' | 'resume'; broker: number }
  | { kind: 'link'; verb: 'delay'; target: string; ms: number }
  | { kind: 'link'; verb: 'cut' | 'heal'; target: string }
  | { kind: 'service'; verb: 'kill'; name: string }
  | { kind: 'heal-all' };

export const chaosUsage = 'usage: npx lab chaos broker stop|start|kill|pause|resume <n> | link delay <target> <ms> | link cut|heal <target> | service kill <name> | heal all';

export class ChaosUsageError extends Error {}

const brokerVerbs = ['stop', 'start', 'kill', 'pause', 'resume'] as const;

/** The words after `lab chaos`, checked; throws ChaosUsageError naming what is wrong. */
export function parseChaos(words: string[]): ChaosAction {
  const [kind, verb, target, extra, ...rest] = words;
  const fail = (why: string): never => {
    throw new ChaosUsageError(`${why}\n${chaosUsage}`);
  };
  const wantArgs = (n: number) => (words.length !== n ? fail(`'${words.join(' ')}': expected ${n - 2} argument(s) after '${kind} ${verb}'`) : undefined);
  switch (kind) {
    case 'broker': {
      if (!brokerVerbs.includes(verb as never)) fail(`unknown broker action '${verb ?? ''}' (one of ${brokerVerbs.join(', ')})`);
      wantArgs(3);
      if (!/^[1-9]\d*$/.test(target!)) fail(`broker must be a node id (1, 2, …), got '${target}'`);
      return { kind, verb: verb as (typeof brokerVerbs)[number], broker: Number(target) };
    }
    case 'link': {
      if (verb === 'delay') {
        wantArgs(4);
        if (!/^\d+$/.test(extra!)) fail(`delay must be whole milliseconds, got '${extra}'`);
        return { kind, verb, target: target!, ms: Number(extra) };
      }
      if (verb === 'cut' || verb === 'heal') {
        wantArgs(3);
        return { kind, verb, target: target! };
      }
      return fail(`unknown link action '${verb ?? ''}' (delay, cut, heal)`);
    }
    case 'service':
      if (verb !== 'kill') fail(`unknown service action '${verb ?? ''}' (kill)`);
      wantArgs(3);
      return { kind, verb: 'kill', name: target! };
    case 'heal':
      if (verb !== 'all' || target !== undefined || rest.length) fail(`'heal' takes 'all'`);
      return { kind: 'heal-all' };
    default:
      return fail(kind ? `unknown chaos target '${kind}'` : 'what fault?');
  }
}

/** One line of the fault log, as `lab status` and the console (lab/console) show it. */
export interface FaultLogEntry {
  at: string;
  action: string;
  target: string;
  detail?: unknown;
}

export const faultLogFile = () => path.join(runPaths.root, 'faults.jsonl');

export function appendFaultLog(entry: FaultLogEntry, file = faultLogFile()): void {
  fs.appendFileSync(file, `${JSON.stringify(entry)}\n`);
}

/** Every entry, oldest first; a torn last line (a chaos call killed mid-write) is skipped, not fatal. */
export function readFaultLog(file = faultLogFile()): FaultLogEntry[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).flatMap((line) => {
    try {
      return [JSON.parse(line) as FaultLogEntry];
    } catch {
      return [];
    }
  });
}

/** Carries out one action on the running cluster; returns what was done, one line each. */
export async function runChaos(action: ChaosAction, env: LabEnvironment, supervisor: Supervisor, descriptor: EnvironmentDescriptor): Promise<string[]> {
  const nemesis = new Nemesis(env);
  const processes = () => {
    if (!env.processes) throw new Error(`the ${descriptor.provider} provider cannot control processes`);
    return env.processes;
  };
  const log = (action: string, target: string, detail?: unknown) => {
    appendFaultLog({ at: new Date().toISOString(), action, target, ...(detail !== undefined ? { detail } : {}) });
    return `${action} ${target}${detail !== undefined ? ` ${JSON.stringify(detail)}` : ''}`;
  };
  switch (action.kind) {
    case 'broker': {
      const target = `broker-${action.broker}` as ProcessTarget;
      if (!descriptor.kafka.brokers.some((b) => b.id === action.broker)) throw new ChaosUsageError(`no broker ${action.broker} (brokers: ${descriptor.kafka.brokers.map((b) => b.id).join(', ')})`);
      if (action.verb === 'kill') await nemesis.kill(target);
      else if (action.verb === 'stop') await nemesis.stop(target);
      else if (action.verb === 'pause') await nemesis.pause(target);
      else if (action.verb === 'resume') await processes().resume(target);
      else if (!(await processes().isRunning(target))) await processes().restart(target);
      return [log(`broker ${action.verb}`, target)];
    }
    case 'link': {
      const proxy = await linkProxy(env, action.target);
      await removeToxics(proxy);
      if (action.verb === 'delay') await nemesis.latency(action.target, action.ms);
      else await setLinkEnabled(proxy, action.verb === 'heal');
      return [log(`link ${action.verb}`, action.target, action.verb === 'delay' ? { ms: action.ms } : undefined)];
    }
    case 'service': {
      const names = supervisor.list().map((r) => r.spec.name).filter((name) => name === action.name || name.startsWith(`svc-${action.name}-`));
      const running = names.filter((name) => supervisor.running(name));
      if (running.length === 0) throw new ChaosUsageError(`no running service process '${action.name}' (running: ${supervisor.list().map((r) => r.spec.name).filter((n) => n.startsWith('svc-') && supervisor.running(n)).join(', ') || 'none'})`);
      for (const name of running) supervisor.signal(name, 'SIGKILL');
      return running.map((name) => log('service kill', name));
    }
    case 'heal-all':
      return healAll(env, supervisor, log);
  }
}

async function linkProxy(env: LabEnvironment, name: string) {
  if (!env.toxiproxy) throw new Error('this cluster has no Toxiproxy');
  const all = await env.toxiproxy.getAll();
  const proxy = all[name];
  if (!proxy) throw new ChaosUsageError(`no link '${name}' (links: ${Object.keys(all).sort().join(', ')})`);
  return proxy;
}

/** Removes every toxic of a link (Toxiproxy's API lists them; the client's Proxy does not keep them). */
async function removeToxics(proxy: Awaited<ReturnType<typeof linkProxy>>): Promise<number> {
  const response = await fetch(`${proxy.toxiproxy.host}/proxies/${encodeURIComponent(proxy.name)}/toxics`);
  if (!response.ok) throw new Error(`Toxiproxy answered ${response.status} listing ${proxy.name}'s toxics`);
  const toxics = (await response.json()) as Array<{ name: string }>;
  for (const toxic of toxics) await (await proxy.getToxic(toxic.name)).remove();
  return toxics.length;
}

/** Every link enabled without toxics, every paused process resumed, every dead cluster process restarted. */
async function healAll(env: LabEnvironment, supervisor: Supervisor, log: (action: string, target: string, detail?: unknown) => string): Promise<string[]> {
  const done: string[] = [];
  for (const proxy of Object.values((await env.toxiproxy?.getAll()) ?? {})) {
    const removed = await removeToxics(proxy);
    if (!proxy.enabled) await setLinkEnabled(proxy, true);
    if (removed > 0 || !proxy.enabled) done.push(log('heal link', proxy.name, { toxicsRemoved: removed, wasCut: !proxy.enabled }));
  }
  const processes = env.processes;
  if (processes) {
    const heal = async (target: ProcessTarget) => {
      const record = supervisor.read(target);
      if (!(await processes.isRunning(target))) {
        await processes.restart(target);
        done.push(log('heal restart', target));
      } else if (record && isStopped(record)) {
        await processes.resume(target);
        done.push(log('heal resume', target));
      }
    };
    // The controller first (brokers restarted without it would wait for it), then the rest at once.
    const targets = processes.targets();
    if (targets.includes('controller')) await heal('controller');
    await Promise.all(targets.filter((target) => target !== 'controller').map(heal));
  }
  if (done.length === 0) done.push(log('heal all', 'cluster', 'nothing to heal'));
  return done;
}
