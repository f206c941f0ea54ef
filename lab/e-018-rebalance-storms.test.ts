/**
 * E-018 — Rebalance storms: handlers that outlast the session timeout.
 *
 * Question  A consumer's handler is slow. When the work between two heartbeats outlasts the group's
 *           session timeout, what does the group do to it — how many rebalances, how much work done
 *           twice, how much progress — and do bounded batches (a commit and a heartbeat after each) avoid it?
 * Setup     The consumer-service as its own OS process (idempotent, batch apply: one DB transaction per
 *           batch, then ONE offset commit and a heartbeat), session timeout 6 s (the broker minimum),
 *           heartbeat interval 1 s. A fresh 3-partition topic whose partitions are led by the 3 brokers
 *           (checked): kafkajs 2.2.4 runs one fetch loop per broker and an idle loop heartbeats after
 *           each empty fetch, so a member stops heartbeating only while every broker's loop is busy.
 *           12 wallet events per partition (one account each), produced before the consumer starts.
 * Fault     A slow handler, by failpoint: consumer.before-process=sleep(750) on every record, so a
 *           partition's fetched batch is 12 × 750 ms = 9 s of work, against a 6 s session.
 * Expected  ❌ one transaction per fetched batch (maxBatchRecords 500, the default): 9 s without a heartbeat;
 *              the coordinator expels the member mid-batch, the batch's DB transaction commits but its
 *              offset commit is refused, kafkajs rejoins (GROUP_JOIN; no REBALANCING event on this path)
 *              and fetches the same records again — forever. Observed until 2 rebalances: rebalances ≥ 2,
 *              offsets committed = 0 (throughput 0), records processed again > 0, every one rejected by
 *              processed_event (dedupe skips > 0), applied twice = 0 (plain SQL): the storm costs all
 *              progress, dedupe keeps the effects once. "Sometimes": a rebalance happened mid-batch.
 *           ✅ bounded batches (maxBatchRecords 2): 1.5 s of work, then a commit and a heartbeat, same session
 *              and same slow handler: rebalances = 0 (1 join), processed again = 0, dedupe skips = 0,
 *              applied twice = 0, every offset committed. "Sometimes": the work per partition really
 *              outlasted the session (the fault fired).
 * Numbers   rebalances, rebalances/min, records processed again, dedupe skips, applied twice, committed,
 *           throughput (records committed/min) of both arms: `[e-018]` lines and the run report.
 */
import { expect } from 'vitest';
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
const [partitions, recordsPerPartition, recordMs, sessionTimeoutMs] = [3, 12, 750, 6000];
const accounts = Array.from({ length: partitions }, (_, i) => `acct-${i}`);
const e018 = experiment({
  id: 'E-018',
  title: 'Rebalance storms: handlers that outlast the session timeout',
  question: "A consumer's handler is slow. When the work between two heartbeats outlasts the group's session timeout, what does the group do to it — how many rebalances, how much work done twice, how much progress — and do bounded batches (a commit and a heartbeat after each) avoid it?",
  suite: 'lab/e-018',
  arena: (label) => createArena(env, `e018_${label}`, partitions),
});

/** Offsets committed by `groupId` on `topic`, summed over partitions (a partition without a commit counts 0). */
async function committedRecords(arena: Arena, groupId: string, topic: string): Promise<number> {
  const [offsets] = await arena.admin.fetchOffsets({ groupId, topics: [topic] });
  return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

/**
 * Produces the events (account i on partition i), starts the consumer-service with the slow handler and
 * `maxBatchRecords`, waits until `done` says so, then freezes the consumer (SIGKILL) and counts: joins
 * and dedupe skips from its /metrics, processing attempts from its failpoint's hits, applications and
 * commits from outside (plain SQL, the group's committed offsets read by the arena's admin client).
 */
async function slowConsumer(arena: Arena, history: History, maxBatchRecords: number, done: (joins: number, groupId: string) => Promise<boolean>) {
  const topic = arena.config.topics.events;
  let leaders = 0; // a broker that has not seen the new topic yet answers UNKNOWN_TOPIC_OR_PARTITION: asked again
  await waitFor('the topic\'s leaders', async () => {
    const [metadata] = (await arena.admin.fetchTopicMetadata({ topics: [topic] }).catch(() => ({ topics: [] }))).topics;
    leaders = new Set(metadata?.partitions.map((p) => p.leader)).size;
    return metadata?.partitions.length === partitions && metadata.partitions.every((p) => p.leader >= 0);
  }, { timeoutMs: 30_000 });
  const sender = await recordSender(env, arena.config.topics);
  arena.defer(sender.close);
  const events = walletEvents(accounts, recordsPerPartition - 1);
  for (const e of events) expect((await sender.sendEvent(accounts.indexOf(e.aggregateId), e)).partition).toBe(accounts.indexOf(e.aggregateId));

  const groupId = `${arena.id}.projection`;
  const fault = history.faultStart('slow handler', 'consumer', { failpoint: 'consumer.before-process', sleepMs: recordMs });
  const consumer = await arena.start('consumer', { groupId, sessionTimeoutMs, maxBatchRecords }, `consumer.before-process=sleep(${recordMs})`);
  const started = Date.now(); // start() resolves after the first join: the clock runs from then
  const service = observeService(consumer);
  const joined = () => service.metric('consumer_group_joins_total');
  await waitFor(`the consumer (maxBatchRecords ${maxBatchRecords}) to get where the arm ends`, async () => done(await joined(), groupId), { timeoutMs: 100_000, intervalMs: 250 });
  const elapsedMs = Date.now() - started;
  const [joins, attempts, fired, dedupeSkips] = [await joined(), await service.hits('consumer.before-process'), await service.fired('consumer.before-process'), await service.metric('duplicates_skipped_total')];
  await consumer.kill();
  history.faultEnd(fault);

  const applied = await applications(arena.database.pool);
  const committed = await committedRecords(arena, groupId, topic);
  const minutes = elapsedMs / 60_000;
  return {
    leaders, records: events.length, sessionTimeoutMs, elapsedMs,
    rebalances: joins - 1, rebalancesPerMin: Math.round(((joins - 1) / minutes) * 10) / 10,
    processedAgain: attempts - events.length, dedupeSkips, redeliveredRounds: events.length * Math.max(0, joins - 2),
    appliedEvents: await count(arena.database.pool, 'processed_event'),
    appliedTwice: [...applied.values()].filter((n) => n > 1).length,
    committed, committedPerMin: Math.round(committed / minutes),
    workPerPartitionMs: (fired / partitions) * recordMs,
  };
}

e018.arm('❌ one transaction per fetched batch (9 s between heartbeats)', {
  label: 'unbounded',
  caseTimeoutMs: 180_000,
  expect: {
    leaders: equals(partitions), rebalances: atLeast(2), committed: equals(0), committedPerMin: equals(0),
    processedAgain: atLeast('dedupeSkips'), dedupeSkips: equals('redeliveredRounds'), appliedTwice: equals(0), appliedEvents: equals('records'),
  },
  // The member was expelled while its batch was still being processed: the rejoin is that rebalance.
  sometimes: { rebalances: atLeast(1) },
  run: async ({ arena, history, log }) => {
    const n = await slowConsumer(arena, history, 500, async (joins) => joins >= 3);
    log(`❌ unbounded: ${n.rebalances} rebalances in ${(n.elapsedMs / 1000).toFixed(1)} s (${n.rebalancesPerMin}/min), ${n.processedAgain} records processed again (${n.dedupeSkips} rejected by processed_event), ${n.appliedTwice} applied twice, ${n.committed} of ${n.records} committed (${n.committedPerMin}/min)`);
    return n;
  },
});

e018.arm('✅ bounded batches: a commit and a heartbeat every 2 records', {
  label: 'bounded',
  caseTimeoutMs: 180_000,
  expect: {
    leaders: equals(partitions), rebalances: equals(0), processedAgain: equals(0), dedupeSkips: equals(0),
    appliedTwice: equals(0), appliedEvents: equals('records'), committed: equals('records'),
  },
  // The slow handler really fired: each partition's work outlasted the session timeout.
  sometimes: { workPerPartitionMs: above('sessionTimeoutMs') },
  run: async ({ arena, history, log }) => {
    const n = await slowConsumer(arena, history, 2, (_, groupId) => caughtUp(arena.admin, groupId, arena.config.topics.events));
    log(`✅ bounded: ${n.rebalances} rebalances in ${(n.elapsedMs / 1000).toFixed(1)} s (${n.rebalancesPerMin}/min), ${n.processedAgain} records processed again (${n.dedupeSkips} rejected by processed_event), ${n.appliedTwice} applied twice, ${n.committed} of ${n.records} committed (${n.committedPerMin}/min), ${n.workPerPartitionMs} ms of work per partition`);
    return n;
  },
});
