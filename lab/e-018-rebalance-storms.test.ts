/**
 * E-018 — Rebalance storms: handlers that outlast the session timeout.
 *
 * Question  A consumer's handler is slow. When the work between two heartbeats outlasts the group's
 *           session timeout, what does the group do to it — how many rebalances, how much work done
 *           twice, how much progress — and do bounded batches, heartbeats during the work or a longer
 *           session timeout avoid it?
 * Setup     The consumer-service as its own OS process (idempotent, batch apply: one DB transaction per
 *           batch, then ONE offset commit and a heartbeat), heartbeat interval 1 s. A fresh 3-partition
 *           topic whose partitions are led by the 3 brokers (checked): kafkajs 2.2.4 runs one fetch loop
 *           per broker and an idle loop heartbeats after each empty fetch, so a member stops heartbeating
 *           only while every broker's loop is busy. 12 wallet events per partition (one account each),
 *           produced before the consumer starts.
 * Fault     A slow handler, by failpoint: consumer.before-process=sleep(750) on every record (it runs
 *           while a batch is gathered), so a partition's fetched batch is 12 × 750 ms = 9 s of work.
 * Expected  ❌ one transaction per fetched batch (maxBatchRecords 500, the default), session 6 s (the broker
 *              minimum): 9 s without a heartbeat; the coordinator expels the member mid-batch, the batch's
 *              DB transaction commits but its offset commit is refused (UNKNOWN_MEMBER_ID), kafkajs
 *              rejoins as a new member (GROUP_JOIN; no REBALANCING event on this path) and fetches the
 *              same records again — forever. Observed until 2 rebalances: offsets committed 0 (throughput
 *              0), dedupe skips = 36 × completed redelivered rounds (every record processed again is rejected
 *              by processed_event), applied twice 0 (plain SQL): the storm costs all progress, the dedupe
 *              keeps the effects once. "Sometimes": a rebalance happened mid-batch.
 *           ✅ same slow handler, each defense alone: bounded batches (maxBatchRecords 2: a commit and a
 *              heartbeat every 1.5 s); a heartbeat after every gathered record (heartbeat: 'record');
 *              a session timeout above the work (30 s > 9 s). Each: rebalances 0 (1 join), processed again
 *              0, dedupe skips 0, applied twice 0, every offset committed. "Sometimes": the work per
 *              partition really outlasted the 6 s session of the ❌ arm (the fault fired).
 *           ◻ measured: the ❌ configuration with records on one partition only: rebalances 0, every offset
 *              committed — the two idle brokers' fetch loops heartbeat while the busy one works 9 s. A
 *              slow handler storms a kafkajs member only when every broker's fetch loop is busy.
 * Numbers   rebalances, rebalances/min, records processed again, dedupe skips, applied twice, committed,
 *           throughput (records committed/min) of every arm: `[e-018]` lines, a side-by-side table and the
 *           run report. ❌ "processed again" is 36 to 39: the second round's 36 plus the third round's
 *           records already in the handler when the counters are read (dedupe skips are exact).
 */
import { afterAll, expect } from 'vitest';
import { walletEvents } from './clients/event-producer.ts';
import { recordSender } from './clients/record-sender.ts';
import type { History } from './history/history.ts';
import { createArena, type Arena } from './infra/arena.ts';
import { waitFor } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { above, atLeast, equals, experiment } from './kit/index.ts';
import { applications, count } from './observe/database.ts';
import { observeService } from './observe/service.ts';
import { caughtUp } from './observe/topic.ts';

const env = labEnvironment();
const [partitions, recordsPerPartition, recordMs, brokerMinimumSessionMs] = [3, 12, 750, 6000];
const accounts = Array.from({ length: partitions }, (_, i) => `acct-${i}`);
const e018 = experiment({
  id: 'E-018',
  title: 'Rebalance storms: handlers that outlast the session timeout',
  question: "A consumer's handler is slow. When the work between two heartbeats outlasts the group's session timeout, what does the group do to it — how many rebalances, how much work done twice, how much progress — and do bounded batches, heartbeats during the work or a longer session timeout avoid it?",
  suite: 'lab/e-018',
  arena: (label) => createArena(env, `e018_${label}`, partitions),
});

/** Offsets committed by `groupId` on `topic`, summed over partitions (a partition without a commit counts 0). */
async function committedRecords(arena: Arena, groupId: string, topic: string): Promise<number> {
  const [offsets] = await arena.admin.fetchOffsets({ groupId, topics: [topic] });
  return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

type Tuning = { maxBatchRecords: number; heartbeat: 'batch' | 'record'; sessionTimeoutMs: number };
/**
 * Produces the events (account i on partition i, for the first `busy` partitions), starts the consumer-service with the slow handler and
 * `tuning`, waits until `done` says so, then counts: joins and dedupe skips from its /metrics, processing
 * attempts from its failpoint's hits; then ends it (`kill`: a storming member, frozen where it is;
 * `stop`: it leaves the group) and counts applications and commits from outside (plain SQL, the group's
 * committed offsets read by the arena's admin client).
 */
async function slowConsumer(arena: Arena, history: History, tuning: Tuning, done: (joins: number, groupId: string) => Promise<boolean>, end: 'kill' | 'stop', busy = partitions) {
  const topic = arena.config.topics.events;
  let leaders = 0; // a broker that has not seen the new topic yet answers UNKNOWN_TOPIC_OR_PARTITION: asked again
  await waitFor('the topic\'s leaders', async () => {
    const [metadata] = (await arena.admin.fetchTopicMetadata({ topics: [topic] }).catch(() => ({ topics: [] }))).topics;
    leaders = new Set(metadata?.partitions.map((p) => p.leader)).size;
    return metadata?.partitions.length === partitions && metadata.partitions.every((p) => p.leader >= 0);
  }, { timeoutMs: 30_000 });
  const sender = await recordSender(env, arena.config.topics);
  arena.defer(sender.close);
  const events = walletEvents(accounts.slice(0, busy), recordsPerPartition - 1);
  for (const e of events) expect((await sender.sendEvent(accounts.indexOf(e.aggregateId), e)).partition).toBe(accounts.indexOf(e.aggregateId));

  const groupId = `${arena.id}.projection`;
  const fault = history.faultStart('slow handler', 'consumer', { failpoint: 'consumer.before-process', sleepMs: recordMs });
  const consumer = await arena.start('consumer', { groupId, ...tuning }, `consumer.before-process=sleep(${recordMs})`);
  const started = Date.now(); // start() resolves after the first join: the clock runs from then
  const service = observeService(consumer);
  const joined = () => service.metric('consumer_group_joins_total');
  await waitFor(`the consumer (${JSON.stringify(tuning)}) to get where the arm ends`, async () => done(await joined(), groupId), { timeoutMs: 100_000, intervalMs: 250 });
  const elapsedMs = Date.now() - started;
  const [joins, attempts, fired, dedupeSkips] = [await joined(), await service.hits('consumer.before-process'), await service.fired('consumer.before-process'), await service.metric('duplicates_skipped_total')];
  await consumer[end]();
  history.faultEnd(fault);

  const applied = await applications(arena.database.pool);
  const committed = await committedRecords(arena, groupId, topic);
  const minutes = elapsedMs / 60_000;
  return {
    leaders, records: events.length, brokerMinimumSessionMs, elapsedMs,
    rebalances: joins - 1, rebalancesPerMin: Math.round(((joins - 1) / minutes) * 10) / 10,
    processedAgain: attempts - events.length, dedupeSkips, redeliveredRecords: events.length * Math.max(0, joins - 2),
    appliedEvents: await count(arena.database.pool, 'processed_event'),
    appliedTwice: [...applied.values()].filter((n) => n > 1).length,
    committed, committedPerMin: Math.round(committed / minutes),
    slowedMsPerPartition: (fired / busy) * recordMs,
  };
}

// Every arm's key numbers, printed side by side once the suite is done.
const sideBySide: string[] = [];
afterAll(() => void (sideBySide.length && e018.log(`side by side — arm: rebalances/min, records processed again, dedupe skips, applied twice, committed/min\n${sideBySide.join('\n')}`)));
/** The arm's `[e-018]` line; its numbers also join the side-by-side table. */
function line(arm: string, n: Awaited<ReturnType<typeof slowConsumer>>): string {
  sideBySide.push(`  ${arm.padEnd(12)} ${n.rebalancesPerMin}/min, ${n.processedAgain}, ${n.dedupeSkips}, ${n.appliedTwice}, ${n.committedPerMin}/min`);
  return `${arm}: ${n.rebalances} rebalances in ${(n.elapsedMs / 1000).toFixed(1)} s (${n.rebalancesPerMin}/min), ${n.processedAgain} records processed again (${n.dedupeSkips} rejected by processed_event), ${n.appliedTwice} applied twice, ${n.committed} of ${n.records} committed (${n.committedPerMin}/min), handler slowed ${n.slowedMsPerPartition} ms per partition`;
}

e018.arm('❌ one transaction per fetched batch, session 6 s (9 s between heartbeats)', {
  label: 'unbounded',
  caseTimeoutMs: 180_000,
  expect: {
    leaders: equals(partitions), rebalances: atLeast(2), committed: equals(0), committedPerMin: equals(0),
    processedAgain: atLeast('dedupeSkips'), dedupeSkips: equals('redeliveredRecords'), appliedTwice: equals(0), appliedEvents: equals('records'),
  },
  // The member was expelled while its batch was still being processed: the rejoin is that rebalance.
  sometimes: { rebalances: atLeast(1) },
  run: async ({ arena, history, log }) => {
    const n = await slowConsumer(arena, history, { maxBatchRecords: 500, heartbeat: 'batch', sessionTimeoutMs: brokerMinimumSessionMs }, async (joins) => joins >= 3, 'kill');
    log(line('❌ unbounded', n));
    return n;
  },
});

/** A ✅ arm: the same slow handler and workload, one defense; the consumer runs until every offset is committed. */
function defended(name: string, label: string, tuning: Tuning) {
  e018.arm(name, {
    label,
    caseTimeoutMs: 180_000,
    expect: {
      leaders: equals(partitions), rebalances: equals(0), processedAgain: equals(0), dedupeSkips: equals(0),
      appliedTwice: equals(0), appliedEvents: equals('records'), committed: equals('records'),
    },
    // The slow handler really fired: each partition's work outlasted the ❌ arm's session timeout.
    sometimes: { slowedMsPerPartition: above('brokerMinimumSessionMs') },
    run: async ({ arena, history, log }) => {
      const n = await slowConsumer(arena, history, tuning, (_, groupId) => caughtUp(arena.admin, groupId, arena.config.topics.events), 'stop');
      log(line(`✅ ${label}`, n));
      return n;
    },
  });
}

defended('✅ bounded batches: a commit and a heartbeat every 2 records', 'bounded', { maxBatchRecords: 2, heartbeat: 'batch', sessionTimeoutMs: brokerMinimumSessionMs });
defended('✅ a heartbeat after every gathered record', 'heartbeat', { maxBatchRecords: 500, heartbeat: 'record', sessionTimeoutMs: brokerMinimumSessionMs });
defended('✅ session timeout above the work (30 s > 9 s)', 'session', { maxBatchRecords: 500, heartbeat: 'batch', sessionTimeoutMs: 30_000 });

// Measured, not a defense: the same storming configuration with records on one partition only. kafkajs
// heartbeats after every empty fetch of the two idle brokers' fetch loops while the busy one works 9 s.
e018.arm('◻ one slow partition of three: the idle brokers\' fetch loops heartbeat (kafkajs 2.2.4)', {
  label: 'one_busy',
  caseTimeoutMs: 180_000,
  expect: { leaders: equals(partitions), rebalances: equals(0), processedAgain: equals(0), appliedTwice: equals(0), committed: equals('records') },
  sometimes: { slowedMsPerPartition: above('brokerMinimumSessionMs') },
  run: async ({ arena, history, log }) => {
    const n = await slowConsumer(arena, history, { maxBatchRecords: 500, heartbeat: 'batch', sessionTimeoutMs: brokerMinimumSessionMs }, (_, groupId) => caughtUp(arena.admin, groupId, arena.config.topics.events), 'stop', 1);
    log(line('◻ one busy', n));
    return n;
  },
});
