/**
 * E-003 — Redelivery duplicates side effects.
 *
 * Question  At-least-once delivery sends some events twice: the outbox relay re-publishes a batch it
 *           could not mark, a producer retries a request whose response it never saw. What does the
 *           duplicate cost a consumer that applies and notifies blindly, and what makes it harmless?
 * Setup     Relay arms: the command-service (in process, outbox mode) commits deposits to 6 accounts in 6
 *           distinct outbox shards; the relay as its own OS process (so it can really die), batches of 2
 *           rows; the consumer-service (`naive` | `idempotent`) notifies the notification gateway (the
 *           external side effect, in process). Observers: a read_committed reader counting event ids on
 *           the topic; SQL on applied_event_log (one row per application), domain and projection; the
 *           gateway's GET /notifications (deliveries per event id).
 *           Producer arms: a kafkajs producer writes to a 1-partition topic with a pinned leader through
 *           a Toxiproxy link of its own to that leader (socketFactory): no other client is faulted.
 * Fault     ❌/✅ relay: SIGKILL of the relay by failpoint relay.after-publish-before-mark (Kafka acked the
 *              batch, the rows are not marked), life after life, then a clean relay re-publishes the
 *              unmarked batch. ✅ adds a SIGKILL of the consumer after the notification and before its DB
 *              commit (consumer.after-side-effect-before-commit), so the same event is notified again.
 *           ❌/✅ producer: a downstream `timeout` toxic on the leader link drops the produce response; the
 *              request timeout fires, the toxic is removed (on kafkajs's REQUEST_TIMEOUT event) well
 *              before the retry (a fixed 2 s backoff), and the retry reaches the broker.
 * Expected  ❌ relay + naive consumer: duplicates on the topic > 0, double-applied > 0, duplicate
 *              notifications > 0, projection ≠ domain (a deposit counted twice). Certain: every crash is a
 *              failpoint and every batch holds a deposit.
 *           ✅ relay + idempotent consumer (processed_event in the projection transaction, Idempotency-Key
 *              = event id on the notification): the topic still holds duplicates (the fault fired), yet
 *              double-applied 0, duplicate notifications delivered 0 with duplicatesSuppressed > 0 (the
 *              gateway really saw the repeat), projection = domain.
 *           ❌ producer, idempotent: false: every dropped response becomes one extra copy of the batch on
 *              the broker (broker duplicates = messages × dropped responses).
 *           ✅ producer, idempotent: true: the same schedule leaves 0 broker duplicates (the broker drops
 *              the retried batch by producer id + sequence), although it had appended the first attempt
 *              before the retry (the high watermark says so).
 * Numbers   duplicates in topic (events seen more than once, extra copies), double-applied, duplicate
 *           notifications (and suppressed), crashes, dropped responses: `[e-003] …` lines, run report.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { checkDelivery, checkEffectsOnce, checkProjection, extraCopies } from './checkers/index.ts';
import { WalletClient } from './clients/wallet-client.ts';
import { accountsInDistinctOutboxShards } from './generators/workload.ts';
import type { History } from './history/history.ts';
import { createArena, createKafkaArena, type Arena } from './infra/arena.ts';
import { kafka } from './infra/clients.ts';
import { waitFor } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { above, atLeast, below, crashAt, crashSchedule, equals, experiment, Lives, type Crash } from './kit/index.ts';
import { privateBrokerLink } from './nemesis/links.ts';
import { dropProduceResponses } from './nemesis/dropped-responses.ts';
import { Nemesis } from './nemesis/nemesis.ts';
import { applications, count, domainBalances, outboxEventIds, projectedBalances } from './observe/database.ts';
import { createTopicLedBy } from './observe/leaders.ts';
import { caughtUp, readTopic, recordCount } from './observe/topic.ts';
import { eventHeaders, startService } from '../src/contract.ts';

const env = labEnvironment();
const e003 = experiment({ id: 'E-003', title: 'Redelivery duplicates side effects', suite: 'lab/e-003', arena: (label) => createArena(env, `e003_${label}`, 3),
  question: 'At-least-once delivery sends some events twice: the outbox relay re-publishes a batch it could not mark, a producer retries a request whose response it never saw. What does the duplicate cost a consumer that applies and notifies blindly, and what makes it harmless?' });

// Relay batches of 2 rows from one shard each always hold a deposit (see accountsInDistinctOutboxShards).
const accounts = accountsInDistinctOutboxShards(6);
const [depositsPerAccount, relayBatchSize] = [4, 2];

/**
 * Fills the outbox (nothing published yet), then runs the relay's crash lives and a clean relay while the
 * consumer applies and notifies (✅: one consumer life dies after a notification, before its commit);
 * counts what the observers saw once the outbox is drained and the consumer committed every offset.
 */
async function relayRedelivery(arena: Arena, history: History, mode: 'naive' | 'idempotent', schedule: { relay: Crash[]; consumer: Crash[] }, amounts: number[]) {
  const { id, database, admin, config } = arena;
  const command = arena.own(await startService('command', { ...config, mode: 'outbox' }));
  const client = new WalletClient(command.url, history, { connections: 1, timeoutMs: 10_000 });
  for (const account of accounts) expect((await client.open('client', account))?.status).toBe(201);
  for (let i = 0; i < depositsPerAccount * accounts.length; i += 1) expect((await client.deposit('client', accounts[i % accounts.length]!, amounts[i % amounts.length]!, `deposit-${i}`))?.status).toBe(201);
  await Promise.all([client.close(), command.stop()]);
  const events = await outboxEventIds(database.pool);

  const gateway = arena.own(await startService('notification-gateway', {}));
  const groupId = `${id}.projection`;
  // 6 s (the broker minimum): a crashed member holds its partitions until its session expires.
  const consumerConfig = { groupId, mode, notificationUrl: gateway.url, sessionTimeoutMs: 6000 };
  // The consumer first (its group join overlaps the relay's start): its crashing lives, then a survivor in this process.
  const consumed = (async () => {
    await new Lives(history, 'consumer', (fp) => arena.start('consumer', consumerConfig, fp), schedule.consumer).crashAll(120_000);
    arena.own(await startService('consumer', { ...config, ...consumerConfig }));
  })();
  consumed.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"
  const relay = await new Lives(history, 'relay', (fp) => arena.start('relay', { relayId: fp ? 'crashing' : 'clean', batchSize: relayBatchSize, pollIntervalMs: 10 }, fp), schedule.relay).throughAll(60_000);
  await waitFor('the outbox to drain', async () => (await count(database.pool, 'outbox_event', 'published_at IS NULL')) === 0, { timeoutMs: 60_000 });
  await relay.stop();
  await consumed;
  await waitFor('the consumer to commit every offset', () => caughtUp(admin, groupId, config.topics.events), { timeoutMs: 90_000 });

  const records = await readTopic(env, config.topics.events, { expected: await recordCount(admin, config.topics.events), quietMs: 500 });
  const book = (await (await fetch(`${gateway.url}/notifications`)).json()) as { deliveredCount: number; duplicatesSuppressed: number; deliveriesByEventId: Record<string, number> };
  const topic = checkDelivery(events.map((e) => ({ id: e, outcome: 'ok' as const })), records.map((r) => r.eventId!), 'topic');
  const applied = checkEffectsOnce(await applications(database.pool), 'applied once');
  const notified = checkEffectsOnce(new Map(Object.entries(book.deliveriesByEventId)), 'notified once');
  const projection = checkProjection(await domainBalances(database.pool), await projectedBalances(database.pool));
  return {
    scheduledRelayCrashes: schedule.relay.length, relayCrashes: arena.crashes('relay.after-publish-before-mark').length, scheduledConsumerCrashes: schedule.consumer.length,
    consumerCrashes: arena.crashes('consumer.after-side-effect-before-commit').length, events: events.length, onTopic: records.length,
    lost: topic.counts.lost!, unexpected: topic.counts.unexpected!, duplicatesInTopic: topic.counts.duplicated!, extraCopiesInTopic: extraCopies(topic),
    applied: applied.counts.events!, doubleApplied: applied.counts.duplicated!, extraApplications: applied.counts.extraDeliveries!,
    delivered: book.deliveredCount, duplicateNotifications: notified.counts.duplicated!, extraNotifications: notified.counts.extraDeliveries!, suppressed: book.duplicatesSuppressed,
    projectionMismatched: projection.counts.mismatched!, projectionAnomalies: projection.counts.mismatched! + projection.counts.missing! + projection.counts.unexpected!,
  };
}

e003.arm('❌ relay redelivery, naive consumer', {
  label: 'relay_naive',
  // The naive consumer applies and notifies every copy it reads (at least the topic's duplicates); without
  // an Idempotency-Key the gateway cannot tell a repeat.
  expect: {
    relayCrashes: equals('scheduledRelayCrashes'), lost: equals(0), unexpected: equals(0), duplicatesInTopic: above(0), doubleApplied: atLeast('duplicatesInTopic'),
    duplicateNotifications: atLeast('duplicatesInTopic'), suppressed: equals(0), projectionMismatched: above(0),
  },
  run: ({ arena, history }) => relayRedelivery(arena, history, 'naive', { relay: [2, 0].map((skip) => crashAt('relay.after-publish-before-mark', skip)), consumer: [] }, [100, 250, 400]),
});

e003.property('✅ processed_event + Idempotency-Key', {
  label: 'relay_idem',
  cases: fc.record({
    relay: crashSchedule(['relay.after-publish-before-mark'], { skip: { max: 3 }, lives: { max: 3 } }), amounts: fc.array(fc.integer({ min: 1, max: 5_000 }), { minLength: 1, maxLength: 5 }),
    consumer: crashSchedule(['consumer.after-side-effect-before-commit'], { skip: { max: accounts.length * (depositsPerAccount + 1) - 1 }, lives: { min: 1, max: 1 } }),
  }),
  // In every case the faults fired (every scheduled crash happened, the topic holds duplicates, the
  // gateway saw a repeated Idempotency-Key) and yet no effect happened twice.
  expect: {
    relayCrashes: equals('scheduledRelayCrashes'), consumerCrashes: equals('scheduledConsumerCrashes'), duplicatesInTopic: above(0), suppressed: above(0),
    lost: equals(0), doubleApplied: equals(0), duplicateNotifications: equals(0), applied: equals('events'), delivered: equals('events'), projectionAnomalies: equals(0),
  },
  run: ({ arena, history, input: { amounts, ...schedule } }) => relayRedelivery(arena, history, 'idempotent', schedule, amounts),
});

// Producer retries under dropped responses
/** `drops` consecutive produce responses dropped (each costs a timeout and a retry); the partition's leader pinned. */
type ProduceCase = { messages: number; drops: number; maxInFlightRequests: number; leader: number };
const [requestTimeoutMs, retryDelayMs] = [1500, 2000]; // kafkajs waits exactly retryDelayMs before each retry (factor 0, multiplier 1): the window to heal in

/** One producer.send of `messages` records through a link that drops its next `drops` produce responses (healed ≫ before the retry; asserted). */
async function produceThroughDroppedResponses(arena: Awaited<ReturnType<typeof createKafkaArena>>, history: History, idempotent: boolean, c: ProduceCase) {
  const { id, admin } = arena;
  const topic = `${id}.produce`;
  await createTopicLedBy(env, admin, topic, c.leader);
  const { proxy, socketFactory } = await privateBrokerLink(env, `${id}-leader`, c.leader); // faults this producer only
  const retry = { retries: c.drops + 2, initialRetryTime: retryDelayMs, maxRetryTime: retryDelayMs, factor: 0, multiplier: 1 };
  const producer = kafka(env, `${id}-producer`, { requestTimeout: requestTimeoutMs, socketFactory }).producer({ idempotent, maxInFlightRequests: c.maxInFlightRequests, allowAutoTopicCreation: false, retry });
  const nemesis = new Nemesis(env, history);
  for (const cleanup of [() => proxy.remove(), () => producer.disconnect(), () => nemesis.heal()]) arena.defer(cleanup); // run newest first
  await producer.connect();
  // Warm-up: topic metadata and the leader connection exist before the fault: only the produce meets the toxic.
  await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'warm-up', headers: { [eventHeaders.eventId]: `${id}-warm-up` } }] });

  const base = await recordCount(admin, topic); // the warm-up (more than 1 if even it needed a retry)
  const highWatermarks: number[] = []; // records on the partition when each dropped response timed out, before its retry
  const drop = await dropProduceResponses(nemesis, producer, proxy.name, c.drops, async () => {
    // The attempt was appended although its response never came back.
    await waitFor('the dropped attempt on the broker', async () => (await recordCount(admin, topic)) >= base + c.messages, { timeoutMs: 1000, intervalMs: 20 }).catch(() => undefined);
    highWatermarks.push((await recordCount(admin, topic)) - base);
  });
  const messages = Array.from({ length: c.messages }, (_, i) => ({ key: 'k', value: `m-${i}`, headers: { [eventHeaders.eventId]: `${id}-m-${i}` } }));
  try {
    await history.call('producer', 'send', { messages: c.messages, idempotent }, () => producer.send({ topic, acks: -1, messages }));
  } finally {
    await nemesis.heal();
    await drop.settled();
  }

  const observed = (await readTopic(env, topic, { expected: await recordCount(admin, topic), quietMs: 300 })).map((r) => r.eventId!).filter((e) => !e.endsWith('-warm-up'));
  const onBroker = checkDelivery(messages.map((m) => ({ id: m.headers[eventHeaders.eventId], outcome: 'ok' as const })), observed, 'broker');
  return {
    produced: c.messages, drops: c.drops, droppedResponses: drop.timeouts(), healMs: Math.round(drop.healMs()),
    // Responses dropped after the broker had appended the attempt: each retry was a real duplicate.
    appendedBeforeRetry: highWatermarks.filter((h) => h === c.messages).length,
    lost: onBroker.counts.lost!, records: onBroker.counts.observed!, brokerDuplicates: onBroker.counts.duplicated!, extraCopies: extraCopies(onBroker), minimumExtraCopies: c.messages * c.drops,
  };
}

e003.arm('❌ producer retry without idempotence', {
  label: 'produce_plain',
  arena: (label: string) => createKafkaArena(env, `e003_${label}`),
  expect: { droppedResponses: equals('drops'), healMs: below(retryDelayMs / 2), appendedBeforeRetry: equals('drops'), lost: equals(0), brokerDuplicates: equals('produced'), extraCopies: atLeast('minimumExtraCopies') },
  run: ({ arena, history }) => produceThroughDroppedResponses(arena, history, false, { messages: 5, drops: 1, maxInFlightRequests: 5, leader: env.descriptor.kafka.brokers[0]!.id }),
});

e003.property('✅ idempotent producer', {
  label: 'produce_idem',
  arena: (label: string) => createKafkaArena(env, `e003_${label}`),
  cases: fc.record({ messages: fc.integer({ min: 1, max: 8 }), drops: fc.integer({ min: 1, max: 2 }), maxInFlightRequests: fc.integer({ min: 1, max: 5 }), leader: fc.constantFrom(...env.descriptor.kafka.brokers.map((b) => b.id)) }),
  // Every scheduled response was dropped after the broker had appended the attempt, the heal came before
  // the retry — so the retry was a real duplicate, and the broker dropped it.
  expect: { droppedResponses: equals('drops'), healMs: below(retryDelayMs / 2), appendedBeforeRetry: equals('drops'), lost: equals(0), brokerDuplicates: equals(0), records: equals('produced') },
  sometimes: { droppedResponses: atLeast(1) },
  combine: { healMs: 'max' },
  run: ({ arena, history, input }) => produceThroughDroppedResponses(arena, history, true, input),
});
