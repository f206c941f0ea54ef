/**
 * Crash lives: a service started with a failpoint schedule dies, is restarted with the next entry, and
 * so on until a clean last life. Every armed life is a fault window in the history (`crash` on the
 * service, detail = the failpoint and skip), from its start to its death, so the report shades it.
 *
 *   const consumer = new Lives(history, 'consumer', (fp) => arena.start('consumer', config, fp), schedule);
 *   const survivor = await consumer.throughAll();          // every armed life to its death, then a clean one
 *
 *   let service = await command.next();                    // or step by step, while a workload runs:
 *   if (!service.isRunning()) service = await command.restart();
 */
import type { History } from '../history/history.ts';
import type { ServiceProcess } from '../infra/services.ts';
import { failpointSpec, type Crash } from '../generators/faults.ts';

export class Lives {
  private index = 0;
  private window: number | undefined;
  current: ServiceProcess | undefined;
  /** Lives that ended (armed lives seen dead). */
  deaths = 0;

  constructor(
    private readonly history: History,
    private readonly target: string,
    private readonly start: (failpoints?: string) => Promise<ServiceProcess>,
    private readonly schedule: readonly Crash[],
  ) {}

  /** Whether the current life is armed to crash (false once the schedule is spent). */
  get armed(): boolean {
    return this.window !== undefined;
  }

  /** Starts the next life: armed with the next scheduled crash, or clean when the schedule is spent. */
  async next(): Promise<ServiceProcess> {
    const crash = this.schedule[this.index];
    this.index += 1;
    this.current = await this.start(crash ? failpointSpec(crash) : undefined);
    this.window = crash ? this.history.faultStart('crash', this.target, crash) : undefined;
    return this.current;
  }

  /** Waits for the current (armed) life to die and closes its fault window. */
  async died(timeoutMs = 60_000): Promise<void> {
    await this.current?.exited(timeoutMs);
    if (this.window !== undefined) this.history.faultEnd(this.window);
    this.window = undefined;
    this.deaths += 1;
  }

  /** The current life died (or is dying): wait for it, then start the next one. */
  async restart(timeoutMs?: number): Promise<ServiceProcess> {
    await this.died(timeoutMs);
    return this.next();
  }

  /** Runs every (remaining) scheduled life to its death; starts no clean life after them. */
  async crashAll(timeoutMs?: number): Promise<void> {
    if (this.armed) await this.died(timeoutMs);
    while (this.index < this.schedule.length) {
      await this.next();
      await this.died(timeoutMs);
    }
  }

  /** Runs every scheduled life to its death and returns the clean last life. */
  async throughAll(timeoutMs?: number): Promise<ServiceProcess> {
    await this.crashAll(timeoutMs);
    return this.next();
  }
}
