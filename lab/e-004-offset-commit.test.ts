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
 *           ✅ lost = 0 and double-applied = 0 in every case; every scheduled crash happened (crashes =
 *              scheduled) and some case crashed at all (the fault really fired). The records after the DB
 *              commit come again and are deduplicated by processed_event: reported as redelivered.
 * Numbers   crashes, lost, redelivered (duplicates skipped by the clean last consumer life), double-applied;
 *           one `[e-004]` line per arm (totals over the generated cases) and the run report.
 */
import { checkDelivery, checkEffectsOnce, summarize } from './checkers/index.ts';
import { produceEvents, walletEvents } from './clients/event-producer.ts';
import type { History } from './history/history.ts';
import { createArena, type Arena } from './infra/arena.ts';
import { sleep, waitFor } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { above, atLeast, crashAt, crashSchedule, equals, experiment, Lives, type Crash } from './kit/index.ts';
import { applications, count } from './observe/database.ts';
import { observeService } from './observe/service.ts';

const env = labEnvironment();
const accounts = Array.from({ length: 6 }, (_, i) => `acct-${i}`);
const e004 = experiment({
  id: 'E-004',
  title: 'Committing offsets before processing is at-most-once',
  question: 'A consumer commits its offsets as soon as it fetched a batch, then processes it. What does a crash mid-batch cost, compared with committing only after the DB transaction?',
  suite: 'lab/e-004',
  arena: (label) => createArena(env, `e004_${label}`, 6),
});

/** Produces the events, then runs the consumer-service process life after life through `schedule`; returns its clean last life. */
async function consumeThroughCrashes(arena: Arena, history: History, commit: 'before-processing' | 'after-processing', schedule: Crash[], deposits: number) {
  const events = walletEvents(accounts, deposits);
  await produceEvents(env, arena.config.topics, events);
  const lives = new Lives(history, 'consumer', (failpoints) => arena.start('consumer', { groupId: `${arena.id}.projection`, commit }, failpoints), schedule);
  return { events, survivor: await lives.throughAll(60_000) };
}

e004.arm('❌ commit before processing', {
  label: 'before',
  expect: { crashes: equals(1), lost: above(0) },
  run: async ({ arena, history, log }) => {
    const { events, survivor } = await consumeThroughCrashes(arena, history, 'before-processing', [crashAt('consumer.after-offset-commit-before-process', 2)], 40);
    // Quiescence: the restarted consumer has nothing left to do once its lag is 0 for a while.
    await waitFor('the restarted consumer to catch up', async () => (await observeService(survivor).metric('consumer_lag')) === 0 && (await count(arena.database.pool, 'applied_event_log')) > 0, { timeoutMs: 60_000 });
    await sleep(1500);
    const applied = await applications(arena.database.pool);
    const verdict = checkDelivery(events.map((e) => ({ id: e.eventId, outcome: 'ok' as const })), [...applied.keys()], 'applied');
    log(`commit before processing: ${summarize(verdict)}`);
    return { produced: events.length, lost: verdict.counts.lost!, crashes: arena.crashes().length };
  },
});

e004.property('✅ commit after the DB transaction', {
  label: 'after',
  cases: crashSchedule(['consumer.inside-projection-tx', 'consumer.after-db-commit-before-offset-commit'], { skip: { max: 30 }, lives: { max: 3 } }),
  // Every scheduled crash happened, nothing lost, nothing applied twice; redelivered and deduplicated
  // records are reported (only those the clean last life met are counted).
  expect: { crashes: equals('scheduled'), lost: equals(0), doubleApplied: equals(0) },
  sometimes: { crashes: atLeast(1) },
  run: async ({ arena, history, input: schedule }) => {
    const { events, survivor } = await consumeThroughCrashes(arena, history, 'after-processing', schedule, 30);
    await waitFor('every event applied', async () => (await applications(arena.database.pool)).size >= events.length, { timeoutMs: 60_000 });
    await waitFor('lag 0', async () => (await observeService(survivor).metric('consumer_lag')) === 0, { timeoutMs: 30_000 });
    const applied = await applications(arena.database.pool);
    const delivery = checkDelivery(events.map((e) => ({ id: e.eventId, outcome: 'ok' as const })), [...applied.keys()], 'applied');
    const once = checkEffectsOnce(applied, 'applied once');
    return {
      produced: events.length,
      scheduled: schedule.length,
      crashes: arena.crashes().length,
      lost: delivery.counts.lost!,
      doubleApplied: once.counts.duplicated!,
      redelivered: await observeService(survivor).metric('duplicates_skipped_total'),
    };
  },
});
