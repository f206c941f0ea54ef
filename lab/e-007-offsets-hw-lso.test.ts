/**
 * E-007 — LEO, high watermark and last stable offset: what a consumer may see.
 *
 * Question  A partition has three ends: each replica's log end offset (LEO), the high watermark (HW: what
 *           every in-sync replica has) and the last stable offset (LSO: below the first open transaction).
 *           When does each freeze, and what does a read_uncommitted or read_committed consumer then see?
 * Setup     One partition, RF 3, replicas [1, 2, 3] (broker 1 leads), topic min.insync.replicas 3. An
 *           observer outside every client samples it every 200 ms with Kafka's ListOffsets straight to
 *           each broker (lab/observe/offsets.ts): LEO per replica (replica_id -2), HW (read_uncommitted)
 *           and LSO (read_committed) from the leader, ISR from metadata; the report draws them.
 * Fault     (a) follower broker 3 SIGSTOPped: 5 acks=1 records, then (after the controller fenced it and
 *           the ISR shrank below min ISR 3) 5 more; SIGCONT, ISR full again. (b) 3 committed records, a
 *           transaction of 3 records aborted, a transaction of 4 records left open, 3 committed records
 *           after it; a consumer of the arm's isolation level reads from the beginning; then the open
 *           transaction is aborted and the same consumer kind reads again.
 * Expected  Both arms (the same choreography): (a) HW frozen while broker 3 is stopped, also once the ISR
 *           is 2 < min ISR 3 (Kafka ≥ 3.7): hwAdvanced = 0, ackedAboveHW = 10 (acknowledged, readable by
 *           no one) while broker 2's LEO equals the leader's; (b) LSO frozen at the open transaction's
 *           first offset while HW runs on: hwMinusLso = 7 (4 open + 3 committed after them).
 *           ❌ read_uncommitted: sees the 3 aborted and the 4 open records (abortedSeen 3, openSeen 4) and
 *              the 3 committed after them; after the abort still 7 never-committed records.
 *           ✅ read_committed: stops at the LSO — 0 aborted, 0 open, 0 at or beyond the LSO, the 3
 *              committed records after the open transaction held back until it ended; afterwards all 19
 *              committed records and still 0 aborted.
 *           kafkajs's admin.fetchTopicOffsets() `high` is the LSO, not the HW: kafkajsHighMinusLso = 0.
 * Numbers   ackedAboveHW, hwAdvanced, isrShrunk, shrunkAfterMs (SIGSTOP → ISR without broker 3, reported
 *           only), hwMinusLso, seen / abortedSeen / openSeen / beyondLso (during the open transaction),
 *           seenAfter / uncommittedAfter (after it ended); `[e-007]` lines and the offsets chart.
 */
import type { Producer } from 'kafkajs';
import { createTopicsAndWait } from '../src/contract.ts';
import type { History } from './history/history.ts';
import { createKafkaArena } from './infra/arena.ts';
import { kafka } from './infra/clients.ts';
import { waitFor } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { atLeast, equals, experiment } from './kit/index.ts';
import { Nemesis } from './nemesis/nemesis.ts';
import { OffsetProbe, type PartitionOffsets } from './observe/offsets.ts';
import { readTopic } from './observe/topic.ts';

const env = labEnvironment();
const [one, two, three] = env.descriptor.kafka.brokers;
const counts = { warmUp: 3, ackedEach: 5, committedBefore: 3, aborted: 3, open: 4, committedAfter: 3 };
const e007 = experiment({ id: 'E-007', title: 'LEO, high watermark and last stable offset: what a consumer may see', suite: 'lab/e-007',
  question: 'A partition has three ends: each replica\'s log end offset (LEO), the high watermark (HW: what every in-sync replica has) and the last stable offset (LSO: below the first open transaction). When does each freeze, and what does a read_uncommitted or read_committed consumer then see?',
  setup: 'One partition, RF 3, leader broker 1, min.insync.replicas 3; ListOffsets to each broker every 200 ms (LEO per replica, HW, LSO)',
  fault: 'follower broker 3 SIGSTOPped while acks=1 records are written; then a transaction aborted and one left open',
  arena: (label) => createKafkaArena(env, `e007_${label}`) });

type Arena = Awaited<ReturnType<typeof createKafkaArena>>;
const values = (tag: string, n: number) => Array.from({ length: n }, (_, i) => ({ value: `${tag}-${i}` }));

async function producer(arena: Arena, name: string, options: Parameters<ReturnType<typeof kafka>['producer']>[0] = {}): Promise<Producer> {
  // Bootstrap through brokers 1 and 2: the stopped broker 3 must not hold a metadata request.
  const p = kafka(env, `${arena.id}-${name}`, { brokers: [one!.address, two!.address] }).producer({ allowAutoTopicCreation: false, ...options });
  await p.connect();
  arena.defer(() => p.disconnect());
  return p;
}

/** (a) Broker 3 stopped: acks=1 records before and after the ISR shrank below min ISR; HW must not move. */
async function stoppedFollower(arena: Arena, history: History, topic: string, timeline: ReturnType<OffsetProbe['timeline']>) {
  const acks1 = await producer(arena, 'acks1');
  const nemesis = new Nemesis(env, history);
  arena.defer(() => nemesis.heal());
  const during: PartitionOffsets[] = [];
  const now = () => timeline.last.get(0)!;
  const hwBefore = now().hw!;
  await nemesis.pause(`broker-${three!.id}`);
  const pausedAt = history.now();
  await acks1.send({ topic, acks: 1, messages: values('acked-before-shrink', counts.ackedEach) });
  await waitFor('the controller to fence broker 3 (ISR 2 < min ISR 3)', async () => !now().isr.includes(three!.id), { timeoutMs: 60_000, intervalMs: 100 });
  const shrunkAfterMs = Math.round(history.now() - pausedAt); // broker.session.timeout.ms (lab: 6 s) plus sampling
  await acks1.send({ topic, acks: 1, messages: values('acked-after-shrink', counts.ackedEach) });
  const leoWanted = counts.warmUp + 2 * counts.ackedEach;
  await waitFor('the observer to see every acks=1 record on brokers 1 and 2', async () => now().leo[one!.id] === leoWanted && now().leo[two!.id] === leoWanted, { timeoutMs: 30_000, intervalMs: 100 });
  during.push(...timeline.samples.filter((s) => s.at >= pausedAt));
  const last = now();
  await nemesis.heal();
  await waitFor('broker 3 back in sync (ISR 3, HW = LEO)', async () => now().isr.length === 3 && now().hw === leoWanted, { timeoutMs: 120_000, intervalMs: 200 });
  const hws = during.map((s) => s.hw).filter((hw): hw is number => hw !== undefined);
  return {
    ackedAboveHW: last.leo[one!.id]! - last.hw!,
    hwAdvanced: Math.max(...hws) - hwBefore,
    isrShrunk: during.some((s) => s.isr.length === 2 && !s.isr.includes(three!.id)) ? 1 : 0,
    followerBehind: last.leo[one!.id]! - last.leo[two!.id]!,
    shrunkAfterMs,
  };
}

/** Reads the topic at one isolation level: how many records, by kind, and how many at or beyond `lso`. */
async function read(topic: string, readUncommitted: boolean, expected: number, lso = Infinity) {
  const records = await readTopic(env, topic, { expected, readUncommitted, quietMs: 2000, timeoutMs: 45_000 });
  const of = (prefix: string) => records.filter((r) => r.value?.toString().startsWith(prefix)).length;
  return { seen: records.length, abortedSeen: of('aborted-'), openSeen: of('open-'), committedAfterSeen: of('committed-after-'), beyondLso: records.filter((r) => r.offset >= lso).length };
}

/** (b) An aborted and an open transaction between committed records; the arm's consumer reads during and after. */
async function openTransaction(arena: Arena, topic: string, timeline: ReturnType<OffsetProbe['timeline']>, readUncommitted: boolean) {
  const plain = await producer(arena, 'plain');
  const transactional = await producer(arena, 'tx', { transactionalId: `${arena.id}-tx`, idempotent: true, maxInFlightRequests: 1 });
  await plain.send({ topic, acks: -1, messages: values('committed-before', counts.committedBefore) });
  const aborted = await transactional.transaction();
  await aborted.send({ topic, messages: values('aborted', counts.aborted) });
  await aborted.abort();
  const open = await transactional.transaction();
  const [firstOpen] = await open.send({ topic, messages: values('open', counts.open) });
  const [lastCommitted] = await plain.send({ topic, acks: -1, messages: values('committed-after', counts.committedAfter) });
  const now = () => timeline.last.get(0)!;
  const end = Number(lastCommitted!.baseOffset) + counts.committedAfter; // offsets from the producers' answers, not from a sample

  await waitFor('HW past the committed records after the open transaction', async () => now().hw === end, { timeoutMs: 30_000, intervalMs: 100 });
  const { hw, lso } = now();
  const kafkajsHigh = Number((await arena.admin.fetchTopicOffsets(topic))[0]!.high); // kafkajs's admin: which end is its "high"?
  const committed = counts.warmUp + 2 * counts.ackedEach + counts.committedBefore;
  const during = await read(topic, readUncommitted, readUncommitted ? committed + counts.aborted + counts.open + counts.committedAfter : committed, lso);
  const lsoDuring = now().lso!;
  await open.abort();
  await waitFor('LSO = HW once the open transaction ended', async () => now().lso === now().hw && now().hw! > end, { timeoutMs: 30_000, intervalMs: 100 });
  const after = await read(topic, readUncommitted, readUncommitted ? committed + counts.aborted + counts.open + counts.committedAfter : committed + counts.committedAfter);
  return {
    hwMinusLso: hw! - lso!, kafkajsHighMinusLso: kafkajsHigh - lso!, lsoPastOpenStart: lso! - Number(firstOpen!.baseOffset), lsoMovedWhileOpen: lsoDuring - lso!, ...during,
    seenAfter: after.seen, uncommittedAfter: after.abortedSeen + after.openSeen,
  };
}

/** The whole choreography for one consumer isolation level, sampled from start to end. */
async function choreography(arena: Arena, history: History, log: (line: string) => void, readUncommitted: boolean) {
  const topic = `${arena.id}.offsets`;
  await createTopicsAndWait(arena.admin, [{ topic, replicaAssignment: [{ partition: 0, replicas: [one!.id, two!.id, three!.id] }], configEntries: [{ name: 'min.insync.replicas', value: '3' }] }]);
  const probe = await OffsetProbe.open(env, topic);
  arena.defer(() => probe.close());
  const timeline = probe.timeline(history);
  arena.defer(() => timeline.stop());
  const now = () => timeline.last.get(0);
  await waitFor('broker 1 leading, ISR full', async () => now()?.leader === one!.id && now()?.isr.length === 3, { timeoutMs: 30_000, intervalMs: 100 });
  await (await producer(arena, 'warm-up')).send({ topic, acks: -1, messages: values('warm-up', counts.warmUp) });
  await waitFor('the warm-up on every replica, HW = LSO = 3', async () => now()?.hw === counts.warmUp && now()?.lso === counts.warmUp, { timeoutMs: 30_000, intervalMs: 100 });
  const a = await stoppedFollower(arena, history, topic, timeline);
  log(`${readUncommitted ? 'read_uncommitted' : 'read_committed'} (a) broker 3 stopped: ${a.ackedAboveHW} acks=1 records acknowledged above a HW that moved ${a.hwAdvanced} (ISR shrunk below min ISR: ${a.isrShrunk ? `yes, ${a.shrunkAfterMs} ms after the SIGSTOP` : 'no'}; broker 2 behind the leader by ${a.followerBehind})`);
  const b = await openTransaction(arena, topic, timeline, readUncommitted);
  log(`${readUncommitted ? 'read_uncommitted' : 'read_committed'} (b) open transaction: HW − LSO = ${b.hwMinusLso}; read ${b.seen} (aborted ${b.abortedSeen}, open ${b.openSeen}, committed after it ${b.committedAfterSeen}, at/beyond LSO ${b.beyondLso}); after the abort read ${b.seenAfter}, never committed ${b.uncommittedAfter}`);
  await timeline.stop();
  return { ...a, ...b, samples: timeline.samples.length };
}

const common = {
  ackedAboveHW: equals(2 * counts.ackedEach), hwAdvanced: equals(0), followerBehind: equals(0),
  hwMinusLso: equals(counts.open + counts.committedAfter), lsoPastOpenStart: equals(0), lsoMovedWhileOpen: equals(0),
  kafkajsHighMinusLso: equals(0), // admin.fetchTopicOffsets's `high` is the LSO (ListOffsets read_committed), not the HW
};

e007.arm('❌ read_uncommitted sees aborted and open transactions', {
  label: 'uncommitted', caseTimeoutMs: 240_000,
  expect: { ...common, abortedSeen: equals(counts.aborted), openSeen: equals(counts.open), committedAfterSeen: equals(counts.committedAfter), uncommittedAfter: equals(counts.aborted + counts.open) },
  sometimes: { isrShrunk: atLeast(1) },
  run: ({ arena, history, log }) => choreography(arena, history, log, true),
});

e007.arm('✅ read_committed stops at the LSO and sees only committed records', {
  label: 'committed', caseTimeoutMs: 240_000,
  expect: { ...common, abortedSeen: equals(0), openSeen: equals(0), beyondLso: equals(0), committedAfterSeen: equals(0), uncommittedAfter: equals(0), seenAfter: equals(counts.warmUp + 2 * counts.ackedEach + counts.committedBefore + counts.committedAfter) },
  sometimes: { isrShrunk: atLeast(1) },
  run: ({ arena, history, log }) => choreography(arena, history, log, false),
});
