/**
 * E-004 — Committing offsets before processing is at-most-once.
 *
 * Question  A consumer commits its offsets as soon as it fetched a batch, then processes it. What does a
 *           crash mid-batch cost, compared with committing only after the DB transaction?
 * Setup     Wallet events produced straight to a fresh topic (6 partitions); the consumer-service as its
 *           own OS process (so it really dies), projection in MySQL with processed_event dedupe.
 * Fault     SIGKILL of the consumer process by failpoint:
 *             ❌ commit-before-processing: after the offset commit, before processing the batch
 *             ✅ commit-after-processing: inside the projection transaction, and after the DB commit
 *                but before the offset commit (a generated schedule of both), then a restart
 * Expected  ❌ lost (produced, never applied) > 0: the committed batch is skipped after the restart.
 *           ✅ lost = 0 and double-applied = 0; redelivered > 0 (the fault really fired: the records
 *              after the DB commit come again and are deduplicated by processed_event).
 * Numbers   crashes, lost, redelivered (duplicates skipped by the restarted consumer), double-applied.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDelivery, checkEffectsOnce, summarize } from './checkers/index.ts';
import { produceEvents, scrapeMetric, walletEvents } from './clients/event-producer.ts';
import { assertProperty } from './generators/run.ts';
import { History } from './history/history.ts';
import { waitFor } from './infra/ports.ts';
import { createArena, disposeArenas } from './infra/arena.ts';
import { labEnvironment } from './infra/vitest.ts';
import { applications, count } from './observe/database.ts';
import { recordArm } from './report/results.ts';

const env = labEnvironment();
const report = (line: string) => console.log(`[e-004] ${line}`);
const accounts = Array.from({ length: 6 }, (_, i) => `acct-${i}`);
afterEach(disposeArenas);

/** A fresh database, topics (6 partitions) and failpoint log, and the consumer-service as a process. */
async function arena(name: string) {
  const a = await createArena(env, `e004_${name}`, 6);
  const consumer = (commit: 'before-processing' | 'after-processing', failpoints?: string) => a.start('consumer', { groupId: `${a.id}.projection`, commit }, failpoints);
  return { ...a, crashes: () => a.crashes().length, consumer };
}

describe('E-004 offset commit order', () => {
  it('❌ committing offsets before processing loses the batch a crash interrupts', async () => {
    const { database, config, crashes, consumer } = await arena('before');
    const history = new History('E-004 commit before processing');
    const events = walletEvents(accounts, 40);
    await produceEvents(env, config.topics, events);
    const crashing = await consumer('before-processing', 'consumer.after-offset-commit-before-process=crash(skip=2)');
    const fault = history.faultStart('crash', 'consumer', { failpoint: 'consumer.after-offset-commit-before-process' });
    await crashing.exited(60_000);
    history.faultEnd(fault);
    const survivor = await consumer('before-processing');
    // Quiescence: the restarted consumer has nothing left to do once its lag is 0 for a while.
    await waitFor('the restarted consumer to catch up', async () => (await scrapeMetric(survivor.url, 'consumer_lag')) === 0 && (await count(database.pool, 'applied_event_log')) > 0, { timeoutMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const applied = await applications(database.pool);
    const verdict = checkDelivery(events.map((e) => ({ id: e.eventId, outcome: 'ok' as const })), [...applied.keys()], 'applied');
    report(`commit before processing: ${summarize(verdict)}; crashes ${crashes()}`);
    recordArm({
      experiment: 'E-004', title: 'Committing offsets before processing is at-most-once', arm: '❌ commit before processing',
      expected: 'lost > 0 after a crash mid-batch', observed: `lost ${verdict.counts.lost} of ${events.length}, crashes ${crashes()}`,
      holds: (verdict.counts.lost ?? 0) > 0 && crashes() === 1, numbers: { produced: events.length, lost: verdict.counts.lost!, crashes: crashes() }, history,
    });
    expect(crashes()).toBe(1);
    expect(verdict.counts.lost).toBeGreaterThan(0);
  });

  it('✅ committing after the DB transaction loses nothing and applies nothing twice across crashes', async () => {
    const failpoints = ['consumer.inside-projection-tx', 'consumer.after-db-commit-before-offset-commit'] as const;
    const totals = { cases: 0, crashes: 0, lost: 0, doubleApplied: 0, redelivered: 0, produced: 0 };
    let lastHistory: History | undefined;
    await assertProperty(
      'lab/e-004',
      fc.asyncProperty(fc.array(fc.record({ failpoint: fc.constantFrom(...failpoints), skip: fc.integer({ min: 0, max: 30 }) }), { minLength: 1, maxLength: 3 }), async (schedule) => {
        const { database, config, crashes, consumer } = await arena(`after_${totals.cases}`);
        const history = new History('E-004 commit after processing');
        lastHistory = history;
        const events = walletEvents(accounts, 30);
        await produceEvents(env, config.topics, events);
        for (const { failpoint, skip } of schedule) {
          const crashing = await consumer('after-processing', `${failpoint}=crash(skip=${skip})`);
          const fault = history.faultStart('crash', 'consumer', { failpoint, skip });
          await crashing.exited(60_000);
          history.faultEnd(fault);
        }
        const survivor = await consumer('after-processing');
        await waitFor('every event applied', async () => (await applications(database.pool)).size >= events.length, { timeoutMs: 60_000 });
        await waitFor('lag 0', async () => (await scrapeMetric(survivor.url, 'consumer_lag')) === 0, { timeoutMs: 30_000 });
        const applied = await applications(database.pool);
        const delivery = checkDelivery(events.map((e) => ({ id: e.eventId, outcome: 'ok' as const })), [...applied.keys()], 'applied');
        const once = checkEffectsOnce(applied, 'applied once');
        const redelivered = await scrapeMetric(survivor.url, 'duplicates_skipped_total');
        totals.cases += 1;
        totals.crashes += crashes();
        totals.lost += delivery.counts.lost!;
        totals.doubleApplied += once.counts.duplicated!;
        totals.redelivered += redelivered;
        totals.produced += events.length;
        expect(crashes()).toBe(schedule.length); // every scheduled crash happened
        expect({ lost: delivery.counts.lost, doubleApplied: once.counts.duplicated }).toEqual({ lost: 0, doubleApplied: 0 });
      }),
      2,
    );
    report(`commit after processing: ${totals.cases} schedules, ${totals.crashes} crashes, lost ${totals.lost}, double-applied ${totals.doubleApplied}, redelivered and deduplicated ${totals.redelivered}`);
    recordArm({
      experiment: 'E-004', title: 'Committing offsets before processing is at-most-once', arm: '✅ commit after the DB transaction',
      expected: 'lost 0, double-applied 0, redelivered > 0', observed: `lost ${totals.lost}, double-applied ${totals.doubleApplied}, redelivered ${totals.redelivered}`,
      holds: totals.lost === 0 && totals.doubleApplied === 0, numbers: totals, ...(lastHistory ? { history: lastHistory } : {}),
    });
    expect(totals.crashes).toBeGreaterThan(0);
  });
});
