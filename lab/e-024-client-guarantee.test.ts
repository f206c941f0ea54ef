/**
 * E-024 — The Kafka client is part of the guarantee.
 *
 * Question  acks=all, RF 3, min.insync.replicas 2 — and still a send() that resolved without appending
 *           some of its records? What does the Node client do when a partition's leader moves mid-send
 *           onto a broker that already answered, and does the relay catch it before marking rows?
 * Setup     A topic of 6 partitions, RF 3, leaders spread over brokers 1, 2, 3 (2 each); the clients
 *           bootstrap through brokers 1 and 2; one warm-up record per partition (metadata and connections
 *           ready). An observer outside the client (its own admin, straight to brokers 1 and 2) reads
 *           leaders, ISRs and high watermarks; the log is counted with Kafka's ListOffsets (what
 *           GetOffsetShell prints) and read back by an independent consumer (lab/observe/topic.ts).
 * Fault     A choreography, the same for every client: SIGSTOP broker 3; one send() of 3 records per
 *           partition; wait until the observer sees brokers 1 and 2 append their partitions' records and
 *           the controller fence broker 3 (broker.session.timeout.ms) and move its leaders to 1 and 2;
 *           1 s more for their answers to arrive; SIGKILL broker 3 (its request fails, the client
 *           retries). Afterwards broker 3 is restarted and the topic's ISR is full again.
 * Expected  ❌ kafkajs 2.2.4 send(): resolves (no error), its RecordMetadata[] lacks the 2 moved partitions,
 *              and exactly their 6 records are missing from the log, also after broker 3 rejoined.
 *           ❌ the relay trusting send() (`verifyAcknowledgements: false`): all rows marked published,
 *              exactly 6 of them on no broker.
 *           ✅ the relay as it is: the unacknowledged partitions throw, the batch is not marked and is
 *              sent again: 0 rows marked but missing, the moved partitions' 6 rows appended (the others
 *              twice: at-least-once); "sometimes": the leaders really moved mid-send, the check fired.
 *           ◻ @platformatic/kafka and @confluentinc/kafka-javascript (when installed): measured, not
 *              judged — whatever they do is reported (the send settled one way or the other).
 * Numbers   Per client arm, in this order (the report's key numbers, one row per client): resolved
 *           (send() resolved), errors (send() rejected), missing (records sent, absent from the log),
 *           unreported (records of partitions absent from the client's result), duplicated, moved
 *           (broker 3's partitions led elsewhere when it was killed). Relay arms: rows, marked,
 *           markedMissing, movedAppended, unacknowledged (batches the check refused).
 */
import { createRequire } from 'node:module';
import { Partitioners } from 'kafkajs';
import { ProduceAcks, Producer as PlatformaticProducer, stringSerializers } from '@platformatic/kafka';
import { createTopicsAndWait, ensureTopics, newEnvelope, outboxRow, startService, type EventEnvelope } from '../src/contract.ts';
import { createArena, type Arena } from './infra/arena.ts';
import { directKafka, kafka } from './infra/clients.ts';
import { deleteSubject } from './infra/isolation.ts';
import { sleep, waitFor } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { atLeast, equals, experiment } from './kit/index.ts';
import { Nemesis } from './nemesis/nemesis.ts';
import { count } from './observe/database.ts';
import { readTopic, watermarks } from './observe/topic.ts';

const env = labEnvironment();
const [one, two, three] = env.descriptor.kafka.brokers;
const [partitions, perPartition] = [6, 3];
const leaderOf = (p: number) => [one, two, three][p % 3]!.id;
const ofStopped = Array.from({ length: partitions }, (_, p) => p).filter((p) => leaderOf(p) === three?.id);
const e024 = experiment({ id: 'E-024', title: 'The Kafka client is part of the guarantee', suite: 'lab/e-024',
  question: 'acks=all, RF 3, min.insync.replicas 2 — and still a send() that resolved without appending some of its records? What does the Node client do when a partition\'s leader moves mid-send onto a broker that already answered, and does the relay catch it before marking rows?',
  arena: (label) => createArena(env, `e024_${label}`, partitions, { topics: false }) });

/** The events topic of the arena, leaders spread (p → broker p mod 3), every replica in sync. */
async function spreadTopic(arena: Arena, topic = arena.config.topics.events): Promise<string> {
  if (!one || !two || !three) throw new Error('E-024 needs 3 brokers');
  const ids = [one.id, two.id, three.id];
  const replicaAssignment = Array.from({ length: partitions }, (_, partition) => ({ partition, replicas: [0, 1, 2].map((k) => ids[(partition + k) % 3]!) }));
  await createTopicsAndWait(arena.admin, [{ topic, replicaAssignment }]);
  const observer = await outside(arena);
  await waitFor(`${topic}: preferred leaders, ISR full`, async () => (await observer.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.every((p) => p.leader === leaderOf(p.partitionId) && p.isr.length === 3), { timeoutMs: 60_000, intervalMs: 200 });
  return topic;
}

/** An admin outside every client under test, dialling brokers 1 and 2 past Toxiproxy; answers within 2 s or fails. */
async function outside(arena: Arena) {
  const admin = (await directKafka(env, `${arena.id}-observer`, { brokers: [one!.address, two!.address], requestTimeout: 2000, retry: { retries: 0 } })).admin();
  await admin.connect();
  arena.defer(() => admin.disconnect());
  return admin;
}

/**
 * The choreography around `send` (already warmed up), then broker 3 back and the ISR full. Returns how
 * the send settled and how many of broker 3's partitions were led elsewhere when it was killed.
 */
async function choreography<T>(arena: Arena, topic: string, send: () => Promise<T>) {
  const nemesis = new Nemesis(env);
  const observer = await outside(arena);
  const target = `broker-${three!.id}` as const;
  let [moved, killedAt] = [0, Infinity];
  try {
    await nemesis.pause(target);
    const settled = send().then((value) => ({ value, at: Date.now() }), (error: unknown) => ({ error: error instanceof Error ? error : new Error(String(error)), at: Date.now() }));
    await waitFor('brokers 1 and 2 to append, broker 3 fenced and its leaders moved', async () => {
      const meta = (await observer.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined))?.topics[0]?.partitions ?? [];
      if (meta.length !== partitions || meta.some((p) => p.leader === three!.id || p.isr.includes(three!.id))) return false;
      moved = ofStopped.filter((p) => meta.find((m) => m.partitionId === p)?.leader !== three!.id).length;
      const high = await observer.fetchTopicOffsets(topic).catch(() => []);
      return high.length === partitions && high.every((p) => ofStopped.includes(p.partition) || Number(p.high) >= 1 + perPartition);
    }, { timeoutMs: 40_000, intervalMs: 200 });
    await sleep(1000); // the answers of brokers 1 and 2 reach the client
    await nemesis.kill(target);
    killedAt = Date.now();
    const outcome = await Promise.race([settled, sleep(90_000).then(() => ({ error: new Error('send() still pending 90 s after the kill'), at: Date.now() }))]);
    return { ...outcome, moved, settledAfterKill: outcome.at >= killedAt ? 1 : 0 };
  } finally {
    await nemesis.heal(); // broker 3 restarted (and SIGCONT for the paused record)
    await waitFor(`${topic}: ISR full again`, async () => {
      const meta = (await observer.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined))?.topics[0]?.partitions ?? [];
      return meta.length === partitions && meta.every((p) => p.isr.length === 3);
    }, { timeoutMs: 120_000, intervalMs: 500 });
  }
}

/** An error with its causes (AggregateError's errors), on one line. */
const explain = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}${Array.isArray((e as { errors?: unknown }).errors) ? ` [${(e as unknown as { errors: unknown[] }).errors.map(explain).join('; ')}]` : ''}` : String(e));

/** What the log holds beyond the warm-up, by ListOffsets and read back: values → how often each was found. */
async function onLog(arena: Arena, topic: string) {
  const offsets = await watermarks(arena.admin, topic);
  const total = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  const records = await readTopic(env, topic, { expected: total, quietMs: 1000, timeoutMs: 30_000 });
  const found = new Map<string, number>();
  for (const id of records.map((r) => r.eventId ?? r.value?.toString() ?? '')) found.set(id, (found.get(id) ?? 0) + 1);
  return { total, found };
}

/** A client under test: warm up (one record per partition), then the send the choreography meets; acknowledged = partitions its result names. */
type Client = { send(values: Array<{ partition: number; value: string }>): Promise<{ acknowledged: number[] }>; close(): Promise<void> };

const batch = (tag: string, n: number) => Array.from({ length: partitions }, (_, partition) => Array.from({ length: n }, (_, i) => ({ partition, value: `${tag}-p${partition}-${i}` }))).flat();

async function clientArm(arena: Arena, log: (line: string) => void, name: string, make: (topic: string) => Promise<Client>) {
  const topic = await spreadTopic(arena);
  const client = await make(topic);
  arena.defer(() => client.close());
  await client.send(batch('warm-up', 1));
  const sent = batch('send', perPartition);
  // Copies: a client may take the messages over (librdkafka's binding turns the values into Buffers).
  const outcome = await choreography(arena, topic, () => client.send(sent.map((r) => ({ ...r }))));
  const { found } = await onLog(arena, topic);
  const acknowledged = 'value' in outcome ? outcome.value.acknowledged : [];
  log(`${name}: send() ${'value' in outcome ? `resolved, result names partitions [${acknowledged.join(', ')}]` : `rejected: ${explain(outcome.error).slice(0, 600)}`}`);
  return {
    resolved: 'value' in outcome ? 1 : 0,
    errors: 'error' in outcome ? 1 : 0,
    missing: sent.filter((r) => !found.has(r.value)).length,
    unreported: 'value' in outcome ? sent.filter((r) => !acknowledged.includes(r.partition)).length : 0,
    duplicated: sent.reduce((sum, r) => sum + Math.max(0, (found.get(r.value) ?? 0) - 1), 0),
    moved: outcome.moved,
    settledAfterKill: outcome.settledAfterKill,
    sent: sent.length,
  };
}

const bootstrap = () => [one!.address, two!.address];

e024.arm('❌ kafkajs 2.2.4 send()', {
  label: 'kafkajs', caseTimeoutMs: 300_000,
  expect: { resolved: equals(1), errors: equals(0), missing: equals(ofStopped.length * perPartition), unreported: equals('missing'), moved: equals(ofStopped.length) },
  run: ({ arena, log }) => clientArm(arena, log, 'kafkajs', async (topic) => {
    const producer = kafka(env, `${arena.id}-kafkajs`, { brokers: bootstrap() }).producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    return {
      send: async (values) => ({ acknowledged: (await producer.send({ topic, acks: -1, messages: values })).filter((m) => m.errorCode === 0).map((m) => m.partition) }),
      close: () => producer.disconnect(),
    };
  }),
});

/** One account per partition (Java's murmur2, the relay's partitioner): index → key. */
function accountsPerPartition(topic: string): string[] {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [], isr: [], partitionErrorCode: 0 }));
  const keys = Array.from({ length: 200 }, (_, i) => `client-${i}`);
  return Array.from({ length: partitions }, (_, p) => keys.find((key) => partitioner({ topic, partitionMetadata, message: { key, value: null } }) === p)!);
}

/** The relay (verifying or trusting send()) under the choreography: rows marked against rows on the log. */
async function relayArm(arena: Arena, verifyAcknowledgements: boolean) {
  const topic = await spreadTopic(arena);
  await ensureTopics(arena.admin, arena.config.topics); // retry topics and the DLQ (the events topic exists)
  arena.defer(() => deleteSubject(env, `${topic}-value`));
  const accounts = accountsPerPartition(topic);
  const deposit = (accountId: string, version: number): EventEnvelope => newEnvelope({ type: 'FundsDeposited', accountId, amount: version }, { id: accountId, version });
  const write = (envelopes: EventEnvelope[]) => arena.database.pool.query('INSERT INTO outbox_event (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, shard, payload, headers) VALUES ?', [envelopes.map((e) => outboxRow(e, 1))]);
  const unmarked = () => count(arena.database.pool, 'outbox_event', 'published_at IS NULL');
  // One worker and one shard: every pending row goes out in one send(), spanning all 6 partitions.
  const relay = arena.own(await startService('relay', { ...arena.config, kafka: { ...arena.config.kafka, brokers: bootstrap() }, relayId: `${arena.id}-relay`, outboxShards: 1, batchSize: 500, concurrency: 1, pollIntervalMs: 10, verifyAcknowledgements }));
  await write(accounts.map((a) => deposit(a, 1)));
  await waitFor('the warm-up rows marked', async () => (await unmarked()) === 0, { timeoutMs: 30_000 });
  const rows = accounts.flatMap((a) => Array.from({ length: perPartition }, (_, i) => deposit(a, i + 2)));
  const outcome = await choreography(arena, topic, async () => {
    await write(rows);
    await waitFor('the relay to mark every row', async () => (await unmarked()) === 0, { timeoutMs: 120_000, intervalMs: 100 });
  });
  if ('error' in outcome) throw outcome.error;
  const { found } = await onLog(arena, topic);
  const [marked] = await arena.database.pool.query('SELECT event_id FROM outbox_event WHERE published_at IS NOT NULL AND event_id IN (?)', [rows.map((r) => r.eventId)]);
  const markedIds = (marked as Array<{ event_id: string }>).map((r) => r.event_id);
  const moved = new Set(ofStopped.map((p) => accounts[p]));
  return {
    rows: rows.length, marked: markedIds.length, markedMissing: markedIds.filter((id) => !found.has(id)).length,
    movedAppended: rows.filter((r) => moved.has(r.aggregateId) && found.has(r.eventId)).length,
    duplicated: rows.reduce((sum, r) => sum + Math.max(0, (found.get(r.eventId) ?? 0) - 1), 0),
    unacknowledged: await relay.metrics.value('relay_unacknowledged_batches_total'), moved: outcome.moved,
  };
}

e024.arm('❌ relay trusting send() (verifyAcknowledgements: false)', {
  label: 'trusting', caseTimeoutMs: 300_000,
  expect: { marked: equals('rows'), markedMissing: equals(ofStopped.length * perPartition), unacknowledged: equals(0), moved: equals(ofStopped.length) },
  run: ({ arena }) => relayArm(arena, false),
});

e024.arm('✅ relay verifying every partition of the response', {
  label: 'verifying', caseTimeoutMs: 300_000,
  expect: { marked: equals('rows'), markedMissing: equals(0), movedAppended: equals(ofStopped.length * perPartition) },
  sometimes: { moved: atLeast(1), unacknowledged: atLeast(1) },
  run: ({ arena }) => relayArm(arena, true),
});

/** Other clients, measured under the same choreography and not judged: the send settled, one way or the other. */
const measured = (name: string, make: (arena: Arena, topic: string) => Promise<Client>) =>
  e024.arm(`◻ ${name} send()`, {
    label: name.replace(/^@/, ''), caseTimeoutMs: 300_000,
    expect: { settled: equals(1) },
    sometimes: { moved: atLeast(1) },
    run: async ({ arena, log }) => {
      const numbers = await clientArm(arena, log, name, (topic) => make(arena, topic));
      return { ...numbers, settled: numbers.resolved + numbers.errors };
    },
  });

measured('@platformatic/kafka 1.35', async (arena, topic) => {
  const producer = new PlatformaticProducer({ clientId: `${arena.id}-platformatic`, bootstrapBrokers: bootstrap(), serializers: stringSerializers });
  return {
    send: async (values) => ({ acknowledged: ((await producer.send({ acks: ProduceAcks.ALL, messages: values.map((v) => ({ topic, ...v })) })).offsets ?? []).map((o) => o.partition) }),
    close: () => producer.close(),
  };
});

// librdkafka's Node binding is not a dependency of the lab: it compiles librdkafka from source (≈ 8 min here,
// a C++ toolchain, CKJS_LINKING=dynamic; docs/CLIENT-GUARANTEE.md). Installed by hand, it is measured too.
const installConfluent = 'CKJS_LINKING=dynamic npm install --no-save @confluentinc/kafka-javascript@1.10.1';
type ConfluentProducer = { connect(): Promise<void>; disconnect(): Promise<void>; send(record: { topic: string; messages: Array<{ partition: number; value: string }> }): Promise<Array<{ partition: number; errorCode: number }>> };
type Confluent = { KafkaJS: { Kafka: new (config: object) => { producer(config: object): ConfluentProducer } } };
const confluent = ((load) => { try { return load('@confluentinc/kafka-javascript') as Confluent; } catch { return undefined; } })(createRequire(import.meta.url));
if (confluent) {
  measured('@confluentinc/kafka-javascript 1.10.1', async (arena, topic) => {
    const producer = new confluent.KafkaJS.Kafka({ kafkaJS: { clientId: `${arena.id}-confluent`, brokers: bootstrap(), logLevel: 0 } }).producer({ kafkaJS: { acks: -1, allowAutoTopicCreation: false } });
    await producer.connect();
    return {
      send: async (values) => ({ acknowledged: (await producer.send({ topic, messages: values })).filter((m) => m.errorCode === 0).map((m) => m.partition) }),
      close: () => producer.disconnect(),
    };
  });
} else e024.log(`@confluentinc/kafka-javascript is not installed, so not measured in this run (docs/CLIENT-GUARANTEE.md has its result; to measure it: ${installConfluent})`);
