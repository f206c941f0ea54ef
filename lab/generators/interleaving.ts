/**
 * Real operations interleaved by fast-check's scheduler (`fc.scheduler`), one step at a time (E-013).
 *
 *   const s = …;                                           // from interleavingScheduler() (an fc arbitrary)
 *   const run = new Interleaving(s, lockWaiters);
 *   run.actor('W1', conn.threadId, async (me) => {
 *     await me.step('UPDATE');                             // waits until the scheduler picks this step
 *     await me.db(() => conn.query('UPDATE …'));           // a statement that may wait for a row lock
 *     me.say('UPDATE balance 107 (not committed)');        // the numbered interleaving a person reads
 *   });
 *   await run.run();                                       // every actor done
 *
 * fc.scheduler releases scheduled promises in an order it generates (and replays from a seed), but by
 * itself it only orders *when* an await resumes: the real I/O after it would overlap the next step's.
 * Its `act` hook closes that gap: after each released step, `settle()` waits until every actor is parked
 * again — at its next step, done, or blocked in MariaDB on a row lock another actor holds (seen from
 * outside in information_schema.INNODB_TRX: such a step ends when the holder commits, inside the
 * holder's step). So the effects happen in exactly the order of the log, and a failing order is one a
 * person can replay by reading it.
 */
import fc from 'fast-check';
import { setTimeout as sleep } from 'node:timers/promises';

let current: Interleaving | undefined;
/** When INNODB_TRX was last read, by any run: a run's first read may follow the previous run's last. */
let lastLockRead = 0;

/** fc.scheduler whose every released step runs until all actors of the running Interleaving are parked. */
export function interleavingScheduler(): fc.Arbitrary<fc.Scheduler> {
  return fc.scheduler({ act: async (f) => { await f(); await current?.settle(); } });
}

interface ActorState {
  name: string;
  threadId: number | undefined;
  state: 'running' | 'parked' | 'done';
  inDb: boolean;
  blocked: boolean;
}

export interface ActorHandle {
  readonly name: string;
  /** Parks until the scheduler releases this actor's step `label`. */
  step(label: string): Promise<void>;
  /** Runs DB work that may wait for a row lock (the actor counts as parked while MariaDB says it waits). */
  db<T>(work: () => Promise<T>): Promise<T>;
  /** Whether this actor's last `db` work waited for a lock (and was released by another actor's step). */
  waitedForLock(): boolean;
  /** Appends a line to the interleaving's log. */
  say(text: string): void;
}

export class Interleaving {
  readonly log: string[] = [];
  private readonly actors: ActorState[] = [];
  private readonly bodies: Array<() => Promise<void>> = [];

  /**
   * `lockWaiters`: the connection ids MariaDB reports waiting for a lock (INNODB_TRX 'LOCK WAIT');
   * `afterStep`: an observation after every step (e.g. cache vs DB while live).
   */
  constructor(
    private readonly scheduler: fc.Scheduler,
    private readonly lockWaiters: () => Promise<Set<number>>,
    private readonly afterStep: () => Promise<void> = async () => undefined,
  ) {}

  actor(name: string, threadId: number | undefined, body: (me: ActorHandle) => Promise<void>): void {
    const a: ActorState = { name, threadId, state: 'running', inDb: false, blocked: false };
    this.actors.push(a);
    const handle: ActorHandle = {
      name,
      step: async (label) => {
        a.state = 'parked';
        // Running from the moment the scheduler picks the step (its customAct is called synchronously
        // then), not from when this await resumes: settle() must not see it parked in between.
        await this.scheduler.schedule(Promise.resolve(), `${name} ${label}`, undefined, (release) => ((a.state = 'running'), release()));
      },
      db: async (work) => {
        a.inDb = true;
        a.blocked = false;
        try {
          return await work();
        } finally {
          a.inDb = false;
        }
      },
      waitedForLock: () => a.blocked,
      say: (text) => void this.log.push(`${name} ${text}`),
    };
    this.bodies.push(async () => {
      try {
        await body(handle);
      } finally {
        a.state = 'done';
      }
    });
  }

  /** Starts every actor and releases their steps in the scheduler's order until all are done. */
  async run(): Promise<void> {
    current = this;
    try {
      const all = Promise.all(this.bodies.map((body) => body()));
      all.catch(() => undefined); // awaited below; a run given up (stuck, deadline) must not leave it unhandled
      await this.settle();
      while (this.scheduler.count() > 0) await this.scheduler.waitOne();
      const stuck = this.actors.filter((a) => a.state !== 'done');
      if (stuck.length) throw new Error(`interleaving stuck: ${stuck.map((a) => `${a.name} ${a.state}`).join(', ')} with no step left to release`);
      await all;
    } finally {
      if (current === this) current = undefined;
    }
  }

  /** Waits until every actor is parked, done, or blocked on a row lock; then observes. */
  async settle(): Promise<void> {
    for (;;) {
      const running = this.actors.filter((a) => a.state === 'running');
      if (running.length === 0) break;
      // InnoDB refreshes what information_schema.INNODB_TRX shows only when nobody read it for 100 ms
      // (its I_S cache): asked every millisecond it never showed a new lock wait, and a read right after
      // the previous case's showed that case's waiter (its pooled connection id reused) as waiting.
      if (running.every((a) => a.inDb && a.threadId !== undefined) && performance.now() - lastLockRead > 110) {
        const waiting = await this.lockWaiters();
        lastLockRead = performance.now();
        if (running.every((a) => waiting.has(a.threadId!))) {
          for (const a of running) a.blocked = true;
          break;
        }
      }
      await sleep(1);
    }
    await this.afterStep();
  }
}
