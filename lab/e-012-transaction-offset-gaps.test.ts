/**
 * E-012 — Aborted transactions look like skipped offsets.
 *
 * Question  A read_committed consumer never sees aborted records, and every transaction leaves a marker
 *           on the log: the offsets it sees have gaps. What does that do to a progress counter that
 *           assumes contiguous offsets and to lag computed from the high watermark, and how does an
 *           operator find and end a transaction that stays open?
 * Setup     One partition, RF 3. One transactional producer (transaction.timeout.ms 15 min, the broker's
 *           maximum) writes 4 transactions: 3 records committed, 3 aborted, 3 committed, 2 aborted; then a
 *           5th of 2 records and dies without ending it (disconnects). Offsets come from the producer's
 *           answers; HW and LSO from ListOffsets straight to the leader (lab/observe/offsets.ts, also
 *           drawn in the report). A kafkajs read_committed consumer (eachBatch, auto-resolve and commit)
 *           reads the partition; its committed offset is read by an admin outside it.
 * Fault     The open transaction: LSO frozen at its first offset. Found with Kafka's own
 *           kafka-transactions.sh (describe-producers; find-hanging asked too) and aborted with its
 *           `abort --start-offset`.
 * Expected  Both arms (one choreography): 6 records delivered, 0 aborted and 0 of the open transaction;
 *           the offsets below the LSO the consumer never saw are exactly the 5 aborted records and the 4
 *           markers (gaps = 9, gapMismatch = 0: the same offsets, not just as many).
 *           ❌ contiguity: a counter that takes records consumed for offsets advanced puts the consumer at
 *              offset 6 while it has everything below the LSO (15): wrong by exactly the gaps (9); lag
 *              from the HW says 2 while nothing is readable: wrong by exactly the open transaction.
 *           ✅ lag from the LSO: 0 while the transaction is open and 0 after it was aborted; the tool
 *              found it (start offset = the open transaction's first offset) and after its abort LSO = HW;
 *              none of its records were ever delivered.
 * Numbers   delivered, abortedRecords, markers, gaps, gapMismatch, contiguityError, lagFromHW, lagFromLSO,
 *           kafkajsOffsetLag (kafkajs's batch.offsetLag(), HW-based), foundByTool, listedHanging,
 *           lsoBehindHwAfterAbort, lagFromLSOAfterAbort; `[e-012]` lines.
 */
import type { History } from './history/history.ts';
import { createTopicsAndWait } from '../src/contract.ts';
import { createKafkaArena } from './infra/arena.ts';
import { kafka } from './infra/clients.ts';
import { waitFor } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { atLeast, equals, experiment } from './kit/index.ts';
import { offsetGaps, OffsetProbe } from './observe/offsets.ts';
import { abortTransaction, describeProducers, findHanging } from './observe/transactions.ts';

const env = labEnvironment();
const transactions = [{ records: 3, end: 'commit' }, { records: 3, end: 'abort' }, { records: 3, end: 'commit' }, { records: 2, end: 'abort' }] as const;
const openRecords = 2;
const e012 = experiment({ id: 'E-012', title: 'Aborted transactions look like skipped offsets', suite: 'lab/e-012',
  question: 'A read_committed consumer never sees aborted records, and every transaction leaves a marker on the log: the offsets it sees have gaps. What does that do to a progress counter that assumes contiguous offsets and to lag computed from the high watermark, and how does an operator find and end a transaction that stays open?',
  setup: 'One partition, RF 3; 4 transactions (2 committed, 2 aborted) and a 5th left open by a producer that died; a kafkajs read_committed consumer',
  fault: 'a transaction left open (transaction.timeout.ms 15 min): LSO frozen; found and aborted with kafka-transactions.sh',
  arena: (label) => createKafkaArena(env, `e012_${label}`) });

type Arena = Awaited<ReturnType<typeof createKafkaArena>>;

async function choreography(arena: Arena, history: History, log: (line: string) => void) {
  const topic = `${arena.id}.gaps`;
  await createTopicsAndWait(arena.admin, [{ topic, numPartitions: 1, replicationFactor: 3 }]);
  const probe = await OffsetProbe.open(env, topic);
  arena.defer(() => probe.close());
  const timeline = probe.timeline(history);
  arena.defer(() => timeline.stop());
  const now = () => timeline.last.get(0);
  const producer = kafka(env, `${arena.id}-tx`).producer({ transactionalId: `${arena.id}-tx`, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 900_000 });
  await producer.connect();
  arena.defer(() => producer.disconnect());

  // Committed and aborted transactions; the offsets of aborted records and of markers, from the producer's answers.
  const [aborted, markers]: [number[], number[]] = [[], []];
  for (const [i, t] of transactions.entries()) {
    const transaction = await producer.transaction();
    const [answer] = await transaction.send({ topic, messages: Array.from({ length: t.records }, (_, k) => ({ value: `${t.end}-${i}-${k}` })) });
    const base = Number(answer!.baseOffset);
    await transaction[t.end]();
    if (t.end === 'abort') aborted.push(...Array.from({ length: t.records }, (_, k) => base + k));
    markers.push(base + t.records); // the coordinator writes it before the next transaction may add the partition
  }
  const open = await producer.transaction();
  const openStart = Number((await open.send({ topic, messages: Array.from({ length: openRecords }, (_, k) => ({ value: `open-${k}` })) }))[0]!.baseOffset);
  await producer.disconnect(); // dies mid-transaction: nothing ends it for 15 minutes
  const window = history.faultStart('open transaction', topic, { startOffset: openStart });
  await waitFor('HW past the open transaction, LSO at its start', async () => now()?.hw === openStart + openRecords && now()?.lso === openStart, { timeoutMs: 30_000, intervalMs: 100 });

  // The consumer under test, and its committed offset read from outside.
  const groupId = `${arena.id}.reader`;
  const delivered: Array<{ offset: number; value: string }> = [];
  let kafkajsOffsetLag = Number.NaN;
  // autoCommitInterval: a fetch that holds only aborted records and markers is resolved by kafkajs but
  // committed only by interval or threshold (runner.js, isEmptyDueToFiltering); without one the group's
  // offset stays before the abort marker until the next real record arrives.
  const consumer = kafka(env, groupId).consumer({ groupId, maxWaitTimeInMs: 200 });
  arena.defer(() => consumer.disconnect());
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ autoCommitInterval: 500, eachBatch: async ({ batch }) => {
    for (const m of batch.messages) delivered.push({ offset: Number(m.offset), value: m.value?.toString() ?? '' });
    kafkajsOffsetLag = Number(batch.offsetLag());
  } });
  const committed = async () => Number((await arena.admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions[0]?.offset ?? -1);
  await waitFor('the consumer to commit up to the LSO', async () => (await committed()) === now()?.lso, { timeoutMs: 60_000, intervalMs: 200 });
  const { hw, lso } = now()!;
  const position = await committed();
  const seen = delivered.map((d) => d.offset);
  const gaps = offsetGaps(seen, 0, lso!);
  const expectedGaps = new Set([...aborted, ...markers]);
  const contiguityPosition = Math.min(...seen) + delivered.length; // "records consumed = offsets advanced"
  const offsetLagBeforeAbort = kafkajsOffsetLag;
  log(`before the abort: delivered offsets [${seen.join(', ')}]; gaps below the LSO ${lso}: [${gaps.join(', ')}] (aborted [${aborted.join(', ')}], markers [${markers.join(', ')}]); committed ${position}, HW ${hw}; contiguity counter at ${contiguityPosition}; kafkajs offsetLag ${kafkajsOffsetLag}`);

  // The operator's view: Kafka's tool finds the open transaction and aborts it.
  const producers = await describeProducers(env, topic, 0);
  const foundByTool = producers.filter((p) => Number(p.CurrentTransactionStartOffset) === openStart).length;
  const listedHanging = (await findHanging(env, topic)).length;
  await abortTransaction(env, topic, 0, openStart);
  await waitFor('LSO = HW after the abort marker', async () => now()?.lso === now()?.hw && now()!.hw! > openStart + openRecords, { timeoutMs: 30_000, intervalMs: 100 });
  history.faultEnd(window);
  const after = now()!;
  await waitFor('the consumer to commit past the abort marker', async () => (await committed()) === after.lso, { timeoutMs: 30_000, intervalMs: 200 });
  log(`kafka-transactions.sh: describe-producers ${JSON.stringify(producers)}; find-hanging listed ${listedHanging}; after abort --start-offset ${openStart}: HW ${after.hw}, LSO ${after.lso}, committed ${await committed()}`);
  await timeline.stop();
  return {
    delivered: delivered.length,
    abortedDelivered: delivered.filter((d) => d.value.startsWith('abort-')).length,
    openDelivered: delivered.filter((d) => d.value.startsWith('open-')).length,
    abortedRecords: aborted.length, markers: markers.length, gaps: gaps.length,
    gapMismatch: gaps.filter((g) => !expectedGaps.has(g)).length + [...expectedGaps].filter((g) => !gaps.includes(g)).length,
    contiguityError: lso! - contiguityPosition,
    openTransaction: hw! - lso!,
    lagFromHW: hw! - position, lagFromLSO: lso! - position, kafkajsOffsetLag: offsetLagBeforeAbort,
    foundByTool, listedHanging,
    lsoBehindHwAfterAbort: after.hw! - after.lso!, lagFromLSOAfterAbort: after.lso! - (await committed()),
  };
}

const counted = { delivered: equals(6), abortedDelivered: equals(0), openDelivered: equals(0), abortedRecords: equals(5), markers: equals(4), gaps: equals(9), gapMismatch: equals(0) };

e012.arm('❌ contiguity-based progress and HW-based lag', {
  label: 'contiguity', caseTimeoutMs: 240_000,
  expect: { ...counted, contiguityError: equals('gaps'), lagFromHW: equals('openTransaction'), openTransaction: equals(openRecords), kafkajsOffsetLag: equals('openTransaction') },
  run: ({ arena, history, log }) => choreography(arena, history, log),
});

e012.arm('✅ lag from the LSO; the open transaction found and aborted with kafka-transactions.sh', {
  label: 'lso', caseTimeoutMs: 240_000,
  expect: { ...counted, lagFromLSO: equals(0), foundByTool: equals(1), lsoBehindHwAfterAbort: equals(0), lagFromLSOAfterAbort: equals(0) },
  sometimes: { openTransaction: atLeast(1) }, // the transaction really held the LSO below the HW
  run: ({ arena, history, log }) => choreography(arena, history, log),
});
