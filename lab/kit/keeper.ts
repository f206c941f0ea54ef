/**
 * Keeps one service process per role alive while faults kill them: whatever died is restarted, every
 * death is counted and recorded in the history as a fault window (`death` of the role, from when the
 * keeper saw it dead until its replacement is ready).
 *
 *   const keeper = new Keeper(history, ['relay-1', 'consumer-1'], (role) => arena.start(…));
 *   await keeper.startAll();  …faults…  keeper.deaths;  await keeper.alive('relay-1');  await keeper.stopAll();
 */
import type { History } from '../history/history.ts';
import { sleep, waitFor } from '../infra/ports.ts';
import type { ServiceProcess } from '../infra/services.ts';

export class Keeper<Role extends string> {
  readonly processes = new Map<Role, ServiceProcess>();
  deaths = 0;
  /** Restarts that failed and were tried again. */
  failedStarts = 0;
  private running = true;
  private loop?: Promise<void>;

  constructor(
    private readonly history: History,
    private readonly roles: readonly Role[],
    private readonly start: (role: Role) => Promise<ServiceProcess>,
  ) {}

  async startAll(): Promise<void> {
    await Promise.all(this.roles.map(async (role) => this.processes.set(role, await this.start(role))));
    this.loop = (async () => {
      while (this.running) {
        for (const role of this.roles) {
          if (this.running && !this.processes.get(role)!.isRunning()) {
            this.deaths += 1;
            const window = this.history.faultStart('death', role);
            this.processes.set(role, await this.restart(role));
            this.history.faultEnd(window);
          }
        }
        await sleep(100);
      }
    })();
  }

  /**
   * Starts the role again until a start succeeds: a restart can fail while the fault that killed it is
   * still on (a consumer whose group coordinator's broker is down exits during start-up), and a keeper
   * that gave up there would leave the role dead for the rest of the case (a CI run's E-001 waited 60 s
   * for a consumer that was never restarted).
   */
  private async restart(role: Role): Promise<ServiceProcess> {
    for (;;) {
      try {
        return await this.start(role);
      } catch (error) {
        if (!this.running) throw error;
        this.failedStarts += 1;
        await sleep(1000);
      }
    }
  }

  /** The role's process once it runs (a fault scheduled while it restarts waits for the new one). */
  async alive(role: Role): Promise<ServiceProcess> {
    await waitFor(`${role} to be running`, async () => this.processes.get(role)!.isRunning(), { timeoutMs: 60_000, intervalMs: 50 });
    return this.processes.get(role)!;
  }

  async stopAll(): Promise<void> {
    this.running = false;
    await this.loop?.catch(() => undefined);
    await Promise.all([...this.processes.values()].map((p) => p.kill().catch(() => undefined)));
  }
}
