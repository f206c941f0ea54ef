import fc from 'fast-check';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Interleaving, interleavingScheduler } from '../../lab/generators/interleaving.ts';

describe('Interleaving (E-013: real steps in fc.scheduler order, one at a time)', () => {
  it('runs each released step to completion before the next: the log follows the release order', async () => {
    await fc.assert(fc.asyncProperty(interleavingScheduler(), fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 4 }), async (s, delays) => {
      const run = new Interleaving(s, async () => new Set());
      const released: string[] = [];
      let busy = 0;
      for (const [i, delay] of delays.entries()) {
        run.actor(`A${i + 1}`, undefined, async (me) => {
          for (const step of ['one', 'two']) {
            await me.step(step);
            released.push(`${me.name} ${step}`);
            busy += 1;
            expect(busy).toBe(1); // nobody else is between its step and its next one
            await sleep(delay); // real (timer) work after the release, as a DB or Redis call would be
            me.say(step);
            busy -= 1;
          }
        });
      }
      await run.run();
      expect(run.log).toEqual(released);
      expect(run.log).toHaveLength(delays.length * 2);
    }), { numRuns: 30 });
  });

  it('treats an actor MariaDB reports waiting for a lock as parked, and says it waited', async () => {
    await fc.assert(fc.asyncProperty(interleavingScheduler(), async (s) => {
      let holder: (() => void) | undefined;
      const lock = new Promise<void>((resolve) => (holder = resolve));
      let waiting = false;
      const run = new Interleaving(s, async () => new Set(waiting ? [2] : []));
      run.actor('H', 1, async (me) => {
        await me.step('release');
        holder!();
        await sleep(5);
      });
      run.actor('W', 2, async (me) => {
        await me.step('wait');
        await me.db(async () => { waiting = true; await lock; waiting = false; });
        me.say(`waited ${me.waitedForLock()}`);
      });
      await run.run();
      expect(run.log).toHaveLength(1);
    }), { numRuns: 10 });
  });
});
