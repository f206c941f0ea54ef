/**
 * E-003 — Redelivery duplicates side effects.
 *
 * Question  At-least-once delivery sends some events twice: the outbox relay re-publishes a batch it
 *           could not mark, a producer retries a request whose response it never saw. What does the
 *           duplicate cost a consumer that applies and notifies blindly, and what makes it harmless?
 * Setup     Relay arms: the command-service (in process, outbox mode) commits deposits to 6 accounts, each
 *           in its own outbox shard; the outbox relay as its own OS process (so it can really die), batches
 *           of 2 rows; the consumer-service in `naive` or `idempotent` mode with the notification gateway
 *           (the external side effect, in process) as its notificationUrl. An independent read_committed
 *           observer counts event ids on the topic; direct SQL reads applied_event_log (one row per
 *           application), the domain and the projection; the gateway's GET /notifications reports what
 *           it delivered per event id.
 *           Producer arms: a kafkajs producer writes to a 1-partition topic whose leader is pinned
 *           (replicaAssignment); its connection to the leader runs through a Toxiproxy proxy of its own
 *           (kafkajs's socketFactory), so the fault touches no other client of the shared cluster.
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
 *           notifications (and suppressed), crashes, dropped responses. `[e-003] …` lines and the run
 *           report.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { Admin, ISocketFactory } from 'kafkajs';
import type { Proxy } from 'toxiproxy-node-client';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDelivery, checkEffectsOnce, checkProjection, summarize, type Verdict } from './checkers/index.ts';
import { WalletClient } from './clients/wallet-client.ts';
import { assertProperty } from './generators/run.ts';
import { History } from './history/history.ts';
import { kafka } from './infra/clients.ts';
import { deleteTopicsWithPrefix, isolationId } from './infra/isolation.ts';
import { freePort, waitFor } from './infra/ports.ts';
import { commonConfig, createMigratedDatabase, startServiceProcess, type ServiceProcess } from './infra/services.ts';
import { labEnvironment } from './infra/vitest.ts';
import { Nemesis } from './nemesis/nemesis.ts';
import { applications, count, domainBalances, outboxEventIds, projectedBalances } from './observe/database.ts';
import { readTopic } from './observe/topic.ts';
import { recordArm } from './report/results.ts';
import { eventHeaders } from '../src/kafka/headers.ts';
import { createTopicsAndWait, ensureTopics } from '../src/kafka/topics.ts';
import { outboxShard } from '../src/services/command/outbox.ts';
import { startCommandService } from '../src/services/command/index.ts';
import { startConsumerService } from '../src/services/consumer/index.ts';
import { startNotificationGateway } from '../src/services/notification-gateway/index.ts';
import type { RunningService } from '../src/services/service.ts';

const env = labEnvironment();
const report = (line: string) => console.log(`[e-003] ${line}`);
const title = 'Redelivery duplicates side effects';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** Registers a cleanup for afterEach and returns it, run-once, so a generated case can free its arena at once. */
function onCleanup(cleanup: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = () => (done ??= cleanup().catch(() => undefined));
  cleanups.push(once);
  return once;
}

/**
 * Six accounts, each in its own outbox shard: the relay's batches (2 rows, one shard each) then always
 * hold at least one deposit (the first batch of a shard is AccountOpened + the first deposit), so a
 * re-published batch always moves money a second time in a naive consumer.
 */
const accounts = (() => {
  const chosen: string[] = [];
  const shards = new Set<number>();
  for (let i = 0; chosen.length < 6; i += 1) {
    const id = `acct-${i}`;
    if (!shards.has(outboxShard(id))) {
      shards.add(outboxShard(id));
      chosen.push(id);
    }
  }
  return chosen;
})();
const depositsPerAccount = 4;
const relayBatchSize = 2;

// ---------------------------------------------------------------------------------------------------
// Relay redelivery: outbox → relay (crashing) → topic → consumer → projection + notification gateway
// ---------------------------------------------------------------------------------------------------

interface RelaySchedule {
  /** One relay life per entry: `crash(skip=k)` at relay.after-publish-before-mark, i.e. on its (k+1)-th batch. */
  relaySkips: number[];
  /** ✅ only: the consumer dies after the notification of its (k+1)-th first application, before COMMIT. */
  consumerSkip?: number;
}

interface RelayOutcome {
  relayCrashes: number;
  consumerCrashes: number;
  events: number;
  onTopic: number;
  topic: Verdict;
  applied: Verdict;
  notifications: Verdict;
  projection: Verdict;
  delivered: number;
  suppressed: number;
}

async function relayArena(name: string) {
  const id = isolationId(env, `e003_${name}`);
  const database = await createMigratedDatabase(env, id);
  const admin = kafka(env, `${id}-admin`).admin();
  await admin.connect();
  const config = commonConfig(env, { database: id, topicPrefix: `${id}.` });
  await ensureTopics(admin, config.topics, 3);
  const failpointLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'e003-')), 'crashes.jsonl');
  const processes: ServiceProcess[] = [];
  const services: RunningService[] = [];
  const dispose = onCleanup(async () => {
    for (const p of processes) await p.kill().catch(() => undefined);
    for (const s of services.reverse()) await s.stop().catch(() => undefined);
    await deleteTopicsWithPrefix(admin, id).catch(() => undefined);
    await admin.disconnect();
    await database.drop();
  });
  const crashes = (failpoint: string) =>
    fs.existsSync(failpointLog)
      ? fs
          .readFileSync(failpointLog, 'utf8')
          .split('\n')
          .filter(Boolean)
          .filter((line) => (JSON.parse(line) as { failpoint: string }).failpoint === failpoint).length
      : 0;
  const startProcess = async (service: string, extra: object, failpoints?: string) => {
    const p = await startServiceProcess(service, { ...config, ...extra }, { failpointLog, ...(failpoints ? { failpoints } : {}) });
    processes.push(p);
    return p;
  };
  const own = <S extends RunningService>(service: S) => {
    services.push(service);
    return service;
  };
  return { id, database, admin, config, crashes, startProcess, own, dispose };
}

/** Has `groupId` committed every offset of `topic` up to the high watermark? */
async function caughtUp(admin: Admin, groupId: string, topic: string): Promise<boolean> {
  const high = await admin.fetchTopicOffsets(topic);
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  return high.every((p) => Number(p.high) === 0 || at.get(p.partition) === Number(p.high));
}

async function recordsOn(admin: Admin, topic: string): Promise<number> {
  return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

/**
 * Commits the workload through the command-service (the outbox fills, nothing is published yet), then
 * runs the relay life after life with the scheduled crashes and a clean relay last, while the consumer
 * applies and notifies; returns what the observers saw once the outbox is drained and the consumer has
 * committed every offset.
 */
async function runRelayRedelivery(arena: Awaited<ReturnType<typeof relayArena>>, mode: 'naive' | 'idempotent', schedule: RelaySchedule, amounts: number[], history: History): Promise<RelayOutcome> {
  const { id, database, admin, config, crashes, startProcess, own } = arena;
  const command = own(await startCommandService({ ...config, mode: 'outbox' }));
  const client = new WalletClient(command.url, history, { connections: 1, timeoutMs: 10_000 });
  for (const account of accounts) expect((await client.open('client', account))?.status).toBe(201);
  for (let round = 0; round < depositsPerAccount; round += 1) {
    for (const [i, account] of accounts.entries()) {
      expect((await client.deposit('client', account, amounts[(round * accounts.length + i) % amounts.length]!, `deposit-${round}-${account}`))?.status).toBe(201);
    }
  }
  await client.close();
  await command.stop();
  const events = await outboxEventIds(database.pool);

  const gateway = own(await startNotificationGateway({}));
  const groupId = `${id}.projection`;
  // 6 s (the broker minimum): a crashed member holds its partitions until its session expires.
  const consumerConfig = { groupId, mode, notificationUrl: gateway.url, sessionTimeoutMs: 6000 };

  // The consumer first (its group join overlaps the relay's start); in ✅ a crashing life, then a survivor.
  const consumerDone = (async () => {
    if (schedule.consumerSkip !== undefined) {
      const failpoint = 'consumer.after-side-effect-before-commit';
      const crashing = await startProcess('consumer', consumerConfig, `${failpoint}=crash(skip=${schedule.consumerSkip})`);
      const fault = history.faultStart('crash', 'consumer', { failpoint, skip: schedule.consumerSkip });
      await crashing.exited(120_000);
      history.faultEnd(fault);
    }
    own(await startConsumerService({ ...config, ...consumerConfig }));
  })();
  consumerDone.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"

  for (const skip of schedule.relaySkips) {
    const failpoint = 'relay.after-publish-before-mark';
    const relay = await startProcess('relay', { relayId: 'crashing', batchSize: relayBatchSize, pollIntervalMs: 10 }, `${failpoint}=crash(skip=${skip})`);
    const fault = history.faultStart('crash', 'relay', { failpoint, skip });
    await relay.exited(60_000);
    history.faultEnd(fault);
  }
  const relay = await startProcess('relay', { relayId: 'clean', batchSize: relayBatchSize, pollIntervalMs: 10 });
  await waitFor('the outbox to drain', async () => (await count(database.pool, 'outbox_event', 'published_at IS NULL')) === 0, { timeoutMs: 60_000 });
  await relay.stop();
  await consumerDone;
  await waitFor('the consumer to commit every offset', () => caughtUp(admin, groupId, config.topics.events), { timeoutMs: 90_000 });

  const onTopic = await recordsOn(admin, config.topics.events);
  const topicRecords = await readTopic(env, config.topics.events, { expected: onTopic, quietMs: 500 });
  const attempts = events.map((eventId) => ({ id: eventId, outcome: 'ok' as const }));
  const notificationBook = (await (await fetch(`${gateway.url}/notifications`)).json()) as { deliveredCount: number; duplicatesSuppressed: number; deliveriesByEventId: Record<string, number> };
  const outcome: RelayOutcome = {
    relayCrashes: crashes('relay.after-publish-before-mark'),
    consumerCrashes: crashes('consumer.after-side-effect-before-commit'),
    events: events.length,
    onTopic: topicRecords.length,
    topic: checkDelivery(attempts, topicRecords.map((r) => r.eventId!), 'topic'),
    applied: checkEffectsOnce(await applications(database.pool), 'applied once'),
    notifications: checkEffectsOnce(new Map(Object.entries(notificationBook.deliveriesByEventId)), 'notified once'),
    projection: checkProjection(await domainBalances(database.pool), await projectedBalances(database.pool)),
    delivered: notificationBook.deliveredCount,
    suppressed: notificationBook.duplicatesSuppressed,
  };
  await arena.dispose(); // a generated case frees its services, topics and database before the next one
  return outcome;
}

const extraCopies = (v: Verdict) => v.counts.observed! - v.counts.distinct!;

// ---------------------------------------------------------------------------------------------------
// Producer retries under dropped responses
// ---------------------------------------------------------------------------------------------------

interface ProduceCase {
  messages: number;
  /** How many consecutive produce responses the link drops (each one costs a timeout and a retry). */
  drops: number;
  maxInFlightRequests: number;
  /** Node id of the partition's pinned leader. */
  leader: number;
}

const requestTimeoutMs = 1500;
/** kafkajs waits exactly this long before each retry (factor 0, multiplier 1): the window to heal in. */
const retryDelayMs = 2000;

interface ProduceOutcome {
  produced: number;
  onBroker: Verdict;
  timeouts: number;
  /** Records on the partition (beyond the warm-up) when each dropped response timed out, before its retry. */
  highWatermarks: number[];
  /** Longest time from a produce timeout to the toxic being gone (only the last timeout heals). */
  healMs: number;
}

/**
 * One producer.send of `messages` records through a link that drops the next `drops` produce responses.
 * The fault schedule is causal, not timed: the toxic is removed on the `drops`-th REQUEST_TIMEOUT event,
 * and the retry comes `retryDelayMs` later (≫ the few ms a heal takes; asserted).
 */
async function produceThroughDroppedResponses(name: string, idempotent: boolean, c: ProduceCase, history: History): Promise<ProduceOutcome> {
  const id = isolationId(env, `e003_${name}`);
  const admin = kafka(env, `${id}-admin`).admin();
  await admin.connect();
  const nemesis = new Nemesis(env, history);
  let proxy: Proxy | undefined;
  const producers: Array<{ disconnect(): Promise<void> }> = [];
  const dispose = onCleanup(async () => {
    await nemesis.heal().catch(() => undefined);
    for (const p of producers) await p.disconnect().catch(() => undefined);
    await proxy?.remove().catch(() => undefined);
    await deleteTopicsWithPrefix(admin, id).catch(() => undefined);
    await admin.disconnect();
  });

  const topic = `${id}.produce`;
  const brokerIds = env.descriptor.kafka.brokers.map((b) => b.id);
  await createTopicsAndWait(admin, [{ topic, replicaAssignment: [{ partition: 0, replicas: [c.leader, ...brokerIds.filter((b) => b !== c.leader)] }] }]);
  await waitFor(`broker ${c.leader} to lead ${topic}`, async () => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions[0]?.leader === c.leader, { timeoutMs: 30_000 });

  // A proxy of our own in front of the leader's client listener: the shared broker-N proxies carry
  // every suite's traffic, so a toxic there would fault them too. kafkajs's socketFactory hook sends
  // this producer's connections to the leader through it; everything else keeps the shared links.
  const leaderEndpoint = env.descriptor.kafka.brokers.find((b) => b.id === c.leader)!;
  const shared = await env.toxiproxy!.get(leaderEndpoint.proxy ?? `broker-${c.leader}`);
  const proxyPort = await freePort();
  proxy = await env.toxiproxy!.createProxy({ name: `${id}-leader`, listen: `127.0.0.1:${proxyPort}`, upstream: shared.upstream });
  const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    const target = `${host}:${port}` === leaderEndpoint.address ? { host: '127.0.0.1', port: proxyPort } : { host, port };
    const socket = net.connect(target, onConnect);
    socket.setKeepAlive(true, 60_000);
    return socket;
  };
  const producer = kafka(env, `${id}-producer`, { requestTimeout: requestTimeoutMs, socketFactory }).producer({
    idempotent,
    maxInFlightRequests: c.maxInFlightRequests,
    allowAutoTopicCreation: false,
    retry: { retries: c.drops + 2, initialRetryTime: retryDelayMs, maxRetryTime: retryDelayMs, factor: 0, multiplier: 1 },
  });
  producers.push(producer);
  await producer.connect();
  // Warm-up: metadata for the topic and the connection to the leader exist before the fault, so the
  // only request that meets the toxic is the produce.
  await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'warm-up', headers: { [eventHeaders.eventId]: `${id}-warm-up` } }] });

  const base = await recordsOn(admin, topic); // the warm-up (more than 1 if even it needed a retry)
  const highWatermarks: number[] = [];
  let timeouts = 0;
  let healMs = 0;
  let onTimeout: Promise<void> = Promise.resolve();
  producer.on(producer.events.REQUEST_TIMEOUT, (event) => {
    if (event.payload.apiName !== 'Produce') return;
    timeouts += 1;
    const timedOutAt = performance.now();
    const last = timeouts === c.drops;
    onTimeout = onTimeout.then(async () => {
      if (last) {
        await nemesis.heal();
        healMs = performance.now() - timedOutAt;
      }
      // The first attempt was appended although its response never came back.
      await waitFor('the dropped attempt on the broker', async () => (await recordsOn(admin, topic)) >= base + c.messages, { timeoutMs: 1000, intervalMs: 20 }).catch(() => undefined);
      highWatermarks.push((await recordsOn(admin, topic)) - base);
    });
  });

  await nemesis.timeout(proxy.name, 0); // downstream: requests reach the broker, responses are dropped
  const messages = Array.from({ length: c.messages }, (_, i) => ({ key: 'k', value: `m-${i}`, headers: { [eventHeaders.eventId]: `${id}-m-${i}` } }));
  const op = history.invoke('producer', 'send', { messages: c.messages, idempotent });
  try {
    await producer.send({ topic, acks: -1, messages });
    op.ok();
  } catch (error) {
    op.info(error);
    throw error;
  } finally {
    await nemesis.heal();
    await onTimeout;
  }

  const observed = await readTopic(env, topic, { expected: await recordsOn(admin, topic), quietMs: 300 });
  await dispose();
  const attempts = messages.map((m) => ({ id: m.headers[eventHeaders.eventId], outcome: 'ok' as const }));
  return {
    produced: c.messages,
    onBroker: checkDelivery(attempts, observed.map((r) => r.eventId!).filter((e) => !e.endsWith('-warm-up')), 'broker'),
    timeouts,
    highWatermarks,
    healMs,
  };
}

describe('E-003 redelivery duplicates side effects', () => {
  it('❌ relay crash after publish before mark + naive consumer: double-applied, notified twice, projection ≠ domain', async () => {
    const arena = await relayArena('relay_naive');
    const history = new History('E-003 relay redelivery, naive consumer');
    const schedule: RelaySchedule = { relaySkips: [2, 0] };
    const o = await runRelayRedelivery(arena, 'naive', schedule, [100, 250, 400], history);

    report(`relay + naive consumer: ${o.relayCrashes} relay crashes; ${o.events} events, ${o.onTopic} records on the topic; duplicates in topic ${o.topic.counts.duplicated} (extra copies ${extraCopies(o.topic)}); double-applied ${o.applied.counts.duplicated} (extra applications ${o.applied.counts.extraDeliveries}); duplicate notifications ${o.notifications.counts.duplicated} (extra ${o.notifications.counts.extraDeliveries}); ${summarize(o.projection)}`);
    recordArm({
      experiment: 'E-003', title, arm: '❌ relay redelivery, naive consumer',
      expected: 'duplicates in topic > 0, double-applied > 0, duplicate notifications > 0, projection ≠ domain',
      observed: `duplicates in topic ${o.topic.counts.duplicated}, double-applied ${o.applied.counts.duplicated}, duplicate notifications ${o.notifications.counts.duplicated}, projection mismatched ${o.projection.counts.mismatched}`,
      holds: o.topic.counts.duplicated! > 0 && o.applied.counts.duplicated! > 0 && o.notifications.counts.duplicated! > 0 && o.projection.valid === false,
      numbers: {
        relayCrashes: o.relayCrashes, events: o.events, onTopic: o.onTopic,
        duplicatesInTopic: o.topic.counts.duplicated!, extraCopiesInTopic: extraCopies(o.topic),
        doubleApplied: o.applied.counts.duplicated!, extraApplications: o.applied.counts.extraDeliveries!,
        duplicateNotifications: o.notifications.counts.duplicated!, extraNotifications: o.notifications.counts.extraDeliveries!,
        projectionMismatched: o.projection.counts.mismatched!,
      },
      history,
    });
    expect(o.relayCrashes).toBe(schedule.relaySkips.length); // every scheduled crash happened
    expect({ lost: o.topic.counts.lost, unexpected: o.topic.counts.unexpected }).toEqual({ lost: 0, unexpected: 0 });
    expect(o.topic.counts.duplicated).toBeGreaterThan(0);
    // The naive consumer applies and notifies every copy it reads: at least the topic's duplicates.
    expect(o.applied.counts.duplicated).toBeGreaterThanOrEqual(o.topic.counts.duplicated!);
    expect(o.notifications.counts.duplicated).toBeGreaterThanOrEqual(o.topic.counts.duplicated!);
    expect(o.suppressed).toBe(0); // no Idempotency-Key: the gateway cannot tell a repeat
    expect(o.projection.counts.mismatched).toBeGreaterThan(0);
  });

  it('✅ processed_event in the projection transaction + Idempotency-Key: 0 double-applied, 0 duplicate notifications', async () => {
    const schedules = fc.record({
      relaySkips: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 }),
      consumerSkip: fc.integer({ min: 0, max: accounts.length * (depositsPerAccount + 1) - 1 }),
      amounts: fc.array(fc.integer({ min: 1, max: 5_000 }), { minLength: 1, maxLength: 5 }),
    });
    const totals = { cases: 0, relayCrashes: 0, consumerCrashes: 0, events: 0, duplicatesInTopic: 0, extraCopiesInTopic: 0, doubleApplied: 0, duplicateNotifications: 0, suppressed: 0, projectionMismatched: 0 };
    let lastHistory: History | undefined;
    await assertProperty(
      'lab/e-003',
      fc.asyncProperty(schedules, async ({ amounts, ...schedule }) => {
        const arena = await relayArena(`relay_idem_${totals.cases}`);
        const history = new History('E-003 relay redelivery, idempotent consumer');
        lastHistory = history;
        const o = await runRelayRedelivery(arena, 'idempotent', schedule, amounts, history);
        totals.cases += 1;
        totals.relayCrashes += o.relayCrashes;
        totals.consumerCrashes += o.consumerCrashes;
        totals.events += o.events;
        totals.duplicatesInTopic += o.topic.counts.duplicated!;
        totals.extraCopiesInTopic += extraCopies(o.topic);
        totals.doubleApplied += o.applied.counts.duplicated!;
        totals.duplicateNotifications += o.notifications.counts.duplicated!;
        totals.suppressed += o.suppressed;
        totals.projectionMismatched += o.projection.counts.mismatched! + o.projection.counts.missing!;
        // "Sometimes": the faults fired — every scheduled crash happened, the topic holds duplicates and
        // the gateway saw a repeated Idempotency-Key.
        expect({ relayCrashes: o.relayCrashes, consumerCrashes: o.consumerCrashes }).toEqual({ relayCrashes: schedule.relaySkips.length, consumerCrashes: 1 });
        expect(o.topic.counts.duplicated).toBeGreaterThan(0);
        expect(o.suppressed).toBeGreaterThan(0);
        expect({ lost: o.topic.counts.lost, doubleApplied: o.applied.counts.duplicated, duplicateNotifications: o.notifications.counts.duplicated, applied: o.applied.counts.events, delivered: o.delivered }).toEqual({
          lost: 0, doubleApplied: 0, duplicateNotifications: 0, applied: o.events, delivered: o.events,
        });
        expect(o.projection.valid, summarize(o.projection)).toBe(true);
      }),
      2,
    );
    report(`relay + idempotent consumer: ${totals.cases} generated schedules, ${totals.relayCrashes} relay crashes, ${totals.consumerCrashes} consumer crashes; duplicates in topic ${totals.duplicatesInTopic} (extra copies ${totals.extraCopiesInTopic}); double-applied ${totals.doubleApplied}; duplicate notifications delivered ${totals.duplicateNotifications}, suppressed by Idempotency-Key ${totals.suppressed}; projection mismatched ${totals.projectionMismatched}`);
    recordArm({
      experiment: 'E-003', title, arm: '✅ processed_event + Idempotency-Key',
      expected: 'duplicates in topic > 0 (fault fired); double-applied 0; duplicate notifications 0 with suppressed > 0; projection = domain',
      observed: `duplicates in topic ${totals.duplicatesInTopic}, double-applied ${totals.doubleApplied}, duplicate notifications ${totals.duplicateNotifications}, suppressed ${totals.suppressed}`,
      holds: totals.duplicatesInTopic > 0 && totals.doubleApplied === 0 && totals.duplicateNotifications === 0 && totals.suppressed > 0 && totals.projectionMismatched === 0,
      numbers: totals, ...(lastHistory ? { history: lastHistory } : {}),
    });
    expect(totals.duplicatesInTopic).toBeGreaterThan(0);
  });

  it('❌ producer retry without idempotence under a dropped response writes the batch twice', async () => {
    const history = new History('E-003 producer, idempotent: false');
    const c: ProduceCase = { messages: 5, drops: 1, maxInFlightRequests: 5, leader: env.descriptor.kafka.brokers[0]!.id };
    const o = await produceThroughDroppedResponses('produce_plain', false, c, history);
    report(`producer idempotent=false: ${o.produced} messages, ${o.timeouts} dropped responses (healed ${o.healMs.toFixed(0)} ms after the timeout, retry after ${retryDelayMs} ms); records on the broker when the response was dropped ${JSON.stringify(o.highWatermarks)}; broker duplicates ${o.onBroker.counts.duplicated} (extra copies ${extraCopies(o.onBroker)})`);
    recordArm({
      experiment: 'E-003', title, arm: '❌ producer retry without idempotence',
      expected: 'broker duplicates > 0: every dropped response re-appends the batch', observed: `broker duplicates ${o.onBroker.counts.duplicated} of ${o.produced}, extra copies ${extraCopies(o.onBroker)}, dropped responses ${o.timeouts}`,
      holds: o.onBroker.counts.duplicated! > 0,
      numbers: { produced: o.produced, droppedResponses: o.timeouts, brokerDuplicates: o.onBroker.counts.duplicated!, extraCopies: extraCopies(o.onBroker), healMs: Math.round(o.healMs) },
      history,
    });
    expect(o.timeouts).toBe(c.drops); // the fault fired as scheduled
    expect(o.healMs).toBeLessThan(retryDelayMs / 2); // healed long before the retry was sent
    expect(o.highWatermarks[0]).toBe(c.messages); // the dropped attempt was appended
    expect(o.onBroker.counts.lost).toBe(0);
    expect(o.onBroker.counts.duplicated).toBe(c.messages);
    expect(extraCopies(o.onBroker)).toBeGreaterThanOrEqual(c.messages * c.drops);
  });

  it('✅ idempotent producer: the same dropped responses leave 0 broker duplicates', async () => {
    const cases = fc.record({
      messages: fc.integer({ min: 1, max: 8 }),
      drops: fc.integer({ min: 1, max: 2 }),
      maxInFlightRequests: fc.integer({ min: 1, max: 5 }),
      leader: fc.constantFrom(...env.descriptor.kafka.brokers.map((b) => b.id)),
    });
    const totals = { cases: 0, produced: 0, droppedResponses: 0, appendedBeforeRetry: 0, brokerDuplicates: 0, extraCopies: 0 };
    let lastHistory: History | undefined;
    await assertProperty(
      'lab/e-003',
      fc.asyncProperty(cases, async (c) => {
        const history = new History('E-003 producer, idempotent: true');
        lastHistory = history;
        const o = await produceThroughDroppedResponses(`produce_idem_${totals.cases}`, true, c, history);
        totals.cases += 1;
        totals.produced += o.produced;
        totals.droppedResponses += o.timeouts;
        totals.appendedBeforeRetry += o.highWatermarks[0] === c.messages ? 1 : 0;
        totals.brokerDuplicates += o.onBroker.counts.duplicated!;
        totals.extraCopies += extraCopies(o.onBroker);
        // "Sometimes": every scheduled response was dropped, the heal came before the retry, and the broker
        // had appended the first attempt — so the retry was a real duplicate, dropped by the broker.
        expect(o.timeouts).toBe(c.drops);
        expect(o.healMs).toBeLessThan(retryDelayMs / 2);
        expect(o.highWatermarks).toEqual(Array.from({ length: c.drops }, () => c.messages));
        expect({ lost: o.onBroker.counts.lost, duplicated: o.onBroker.counts.duplicated, records: o.onBroker.counts.observed }).toEqual({ lost: 0, duplicated: 0, records: c.messages });
      }),
      2,
    );
    report(`producer idempotent=true: ${totals.cases} generated cases, ${totals.produced} messages, ${totals.droppedResponses} dropped responses, first attempt appended before the retry in ${totals.appendedBeforeRetry}/${totals.cases}; broker duplicates ${totals.brokerDuplicates} (extra copies ${totals.extraCopies})`);
    recordArm({
      experiment: 'E-003', title, arm: '✅ idempotent producer',
      expected: 'broker duplicates 0 under the same dropped responses', observed: `broker duplicates ${totals.brokerDuplicates} over ${totals.droppedResponses} dropped responses`,
      holds: totals.brokerDuplicates === 0 && totals.droppedResponses > 0,
      numbers: totals, ...(lastHistory ? { history: lastHistory } : {}),
    });
    expect(totals.droppedResponses).toBeGreaterThan(0);
  });
});
