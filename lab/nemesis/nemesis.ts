/**
 * The nemesis: every fault an experiment injects, recorded as a window in the history, and healed by
 * `heal()` (call it in afterEach/afterAll: it runs even when the test failed).
 *
 *   const nemesis = new Nemesis(env, history);
 *   await nemesis.latency('broker-2', 300);          // link faults through Toxiproxy
 *   await nemesis.partition('mysql');                 // the link is cut
 *   await nemesis.cutReplication({ to: 3 });          // broker 3 fetches nothing (replicationLinks)
 *   await nemesis.kill('broker-1');                   // process faults through the environment
 *   await nemesis.stop('broker-2');                   // a controlled stop (SIGTERM, waited for)
 *   await nemesis.armFailpoint(relay.url, 'relay.after-publish-before-mark', 'crash(count=1)');
 *   await nemesis.heal();                             // everything back, windows closed
 */
import type { Proxy } from 'toxiproxy-node-client';
import type { FailpointName } from '../../src/contract.ts';
import type { LabEnvironment, ProcessTarget } from '../infra/environment.ts';
import type { History } from '../history/history.ts';
import { replicationProxies, setLinkEnabled } from './links.ts';

type Heal = () => Promise<void>;

export class Nemesis {
  private readonly active: Array<{ id?: number; heal: Heal; label: string; target: string }> = [];
  private toxicCounter = 0;

  constructor(
    private readonly env: LabEnvironment,
    private readonly history?: History,
  ) {}

  private async proxy(name: string): Promise<Proxy> {
    if (!this.env.toxiproxy) throw new Error(`this environment (${this.env.descriptor.provider}) has no Toxiproxy: link faults are unavailable`);
    return this.env.toxiproxy.get(name);
  }

  private begin(fault: string, target: string, heal: Heal, detail?: unknown): void {
    const id = this.history?.faultStart(fault, target, detail);
    this.active.push({ ...(id !== undefined ? { id } : {}), heal, label: `${fault} ${target}`, target });
  }

  private async toxic(fault: string, proxyName: string, type: string, attributes: Record<string, number>, stream: 'upstream' | 'downstream' = 'downstream'): Promise<void> {
    const proxy = await this.proxy(proxyName);
    this.toxicCounter += 1;
    const name = `${fault}-${this.toxicCounter}`;
    await proxy.addToxic({ name, type: type as never, stream, toxicity: 1, attributes: attributes as never });
    this.begin(fault, proxyName, async () => {
      const toxic = await proxy.getToxic(name).catch(() => undefined);
      await toxic?.remove();
    }, attributes);
  }

  /**
   * Adds `ms` (± jitter) to every response on the link; `upstream` delays the requests instead, so a
   * request reaches the server only after `ms` (what happened meanwhile decides its answer).
   */
  latency(proxy: string, ms: number, jitter = 0, stream: 'upstream' | 'downstream' = 'downstream'): Promise<void> {
    return this.toxic(stream === 'upstream' ? 'request-latency' : 'latency', proxy, 'latency', { latency: ms, jitter }, stream);
  }

  /** Stops all data on the link; the connection is closed after `ms` (0 = held open forever). */
  timeout(proxy: string, ms = 0): Promise<void> {
    return this.toxic('timeout', proxy, 'timeout', { timeout: ms });
  }

  /** Resets connections (TCP RST) after `ms`. */
  resetPeer(proxy: string, ms = 0): Promise<void> {
    return this.toxic('reset', proxy, 'reset_peer', { timeout: ms });
  }

  bandwidth(proxy: string, kbPerSecond: number): Promise<void> {
    return this.toxic('bandwidth', proxy, 'bandwidth', { rate: kbPerSecond });
  }

  /** Cuts the link: open connections closed, new ones refused. */
  async partition(proxyName: string): Promise<void> {
    const proxy = await this.proxy(proxyName);
    await setLinkEnabled(proxy, false);
    this.begin('partition', proxyName, async () => {
      await setLinkEnabled(await this.proxy(proxyName), true);
    });
  }

  /**
   * Cuts replication links (a cluster started with `kafka.replicationLinks`): `{ to: F }` every link
   * follower F fetches over, `{ from: L }` every follower's link to leader L. Clients and the controller
   * still reach the brokers. One window per link.
   */
  async cutReplication(select: { to?: number; from?: number }): Promise<void> {
    for (const proxy of replicationProxies(this.env, select)) await this.partition(proxy);
  }

  /** Delays replication on the chosen links by `ms` (the leader's responses: fetched records arrive late). */
  async slowReplication(select: { to?: number; from?: number }, ms: number, jitter = 0): Promise<void> {
    for (const proxy of replicationProxies(this.env, select)) await this.latency(proxy, ms, jitter);
  }

  private processes() {
    if (!this.env.processes) throw new Error(`the ${this.env.descriptor.provider} provider cannot control processes`);
    return this.env.processes;
  }

  /** SIGKILL; healed by a restart. */
  async kill(target: ProcessTarget): Promise<void> {
    const processes = this.processes();
    await processes.kill(target);
    this.begin('kill', target, async () => {
      if (!(await processes.isRunning(target))) await processes.restart(target);
    });
  }

  /** SIGTERM, waited for (a controlled stop: a broker shuts down cleanly); healed by a restart. */
  async stop(target: ProcessTarget): Promise<void> {
    const processes = this.processes();
    await processes.terminate(target);
    this.begin('stop', target, async () => {
      if (!(await processes.isRunning(target))) await processes.restart(target);
    });
  }

  /** SIGSTOP; healed by SIGCONT. */
  async pause(target: ProcessTarget): Promise<void> {
    const processes = this.processes();
    await processes.pause(target);
    this.begin('pause', target, () => processes.resume(target));
  }

  /** Arms a failpoint in a service process over its HTTP API; healed by clearing it. */
  async armFailpoint(serviceUrl: string, name: FailpointName, spec: string): Promise<void> {
    const response = await fetch(`${serviceUrl}/failpoints/${name}`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: spec });
    if (!response.ok) throw new Error(`arming failpoint ${name}=${spec} failed: HTTP ${response.status} ${await response.text()}`);
    this.begin('failpoint', name, async () => {
      await fetch(`${serviceUrl}/failpoints/${name}`, { method: 'DELETE' }).catch(() => undefined); // the service may be gone (crash)
    }, { spec, serviceUrl });
  }

  /** Marks a fault injected by other means (a crash failpoint given at start, a killed service process). */
  record(fault: string, target: string, heal: Heal = async () => undefined, detail?: unknown): void {
    this.begin(fault, target, heal, detail);
  }

  /** Heals the most recent fault first; every fault is attempted even if one heal fails. */
  async heal(): Promise<void> {
    await this.healWhere(() => true);
  }

  /** Heals the faults on one target only (a broker restarted mid-run), closing their windows. */
  async healTarget(target: string): Promise<void> {
    await this.healWhere((fault) => fault.target === target);
  }

  private async healWhere(matches: (fault: { target: string }) => boolean): Promise<void> {
    // Taken out synchronously first: a fault begun while these heal is not touched.
    const healing = this.active.filter(matches).reverse();
    for (const fault of healing) this.active.splice(this.active.indexOf(fault), 1);
    const errors: unknown[] = [];
    for (const fault of healing) {
      try {
        await fault.heal();
      } catch (error) {
        errors.push(new Error(`healing ${fault.label} failed: ${(error as Error).message}`));
      }
      if (fault.id !== undefined) this.history?.faultEnd(fault.id);
    }
    // The reasons in the message too: a run's summary line shows the message, not the aggregated errors.
    if (errors.length) throw new AggregateError(errors, `nemesis could not heal ${errors.length} fault(s): ${errors.map((error) => (error as Error).message).join('; ')}`);
  }

  activeFaults(): string[] {
    return this.active.map((fault) => fault.label);
  }
}
