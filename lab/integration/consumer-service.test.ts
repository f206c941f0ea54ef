/**
 * consumer-service on the real cluster: projection, dedupe, poison → DLQ, retry topics, side effect, cache.
 *
 * Question  Does the consumer apply each event exactly once in effect (idempotent mode) and show the
 *           double-apply in naive mode; does a poison record go to the DLQ without blocking the records
 *           behind it; does a transient failure heal through the retry topics, and reach the DLQ only
 *           once maxAttempts is spent; is the notification delivered once per event and the cache
 *           invalidated after the commit?
 * Setup     A fresh database (wallet schema) and Redis key prefix per suite; per scenario a fresh topic
 *           set (2 partitions, retry delays 200/400/800 ms) and consumer group. Events are produced by
 *           this suite per the pipeline contract (EnvelopeSerde + registry, key = account id, versions
 *           1, 2, 3 … per account), the consumer and a notification gateway run in this process.
 * Fault     The same record produced twice (a redelivery); JSON bytes and an unknown schema id and two
 *           business-invalid events on one partition; a 1,048,400-byte JSON value (fits the events
 *           topic, not the DLQ with the failure headers); a DLQ with max.message.bytes = 1 (the consumer
 *           as its own process); failpoint `consumer.apply = error(count=2)`.
 *           Batch apply (the idempotent default): a 1,000-event backlog; a duplicate inside one fetched
 *           batch and one already applied; two poison records between good ones in one fetch.
 * Expected  batch: the backlog applied with far fewer SQL statements than events (one transaction per
 *           batch, not per event) and no fallback; a duplicate makes its batch fall back to one by one
 *           and is skipped there; poison records go to the DLQ on their own while the records around
 *           them are applied in batches.
 *           idempotent: balances/versions as computed, one applied_event_log row per event,
 *           duplicates_skipped_total ≥ 1, one notification per event id, the cache key gone.
 *           naive: the duplicated deposit applied (and notified) twice.
 *           poison: four DLQ records with their reason and original partition/offset; the good event
 *           after them on the same partition applied.
 *           oversized: the records behind it (same and other partition) applied; the DLQ holds a
 *           truncated fallback (a prefix, lab.dlq.value-truncated, the full size, the source offset).
 *           DLQ rejecting everything: fatal log line, the process exits with code 1 (it used to live on
 *           without consuming, issue 7).
 *           transient: applied via retry-1 and retry-2, DLQ empty; with maxAttempts = 2 the same fault
 *           ends in the DLQ with attempts = 2.
 * Numbers   `[consumer] …` lines: time to apply, retries and DLQ counts per scenario.
 */
import { request } from 'undici';
import type { Message, Producer, RecordMetadata } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { balanceKey, EnvelopeSerde, envelopeHeaders, eventHeaders, failpoints, failureHeaders, frame, newEnvelope, RegistrySchemaSource, startService, type ConsumerConfig, type EventEnvelope, type RunningService, type TopicNames, type WalletEventPayload } from '../../src/contract.ts';
import { kafka } from '../infra/clients.ts';
import { waitFor } from '../infra/ports.ts';
import { commonConfig, startServiceProcess } from '../infra/services.ts';
import { fileArena, labEnvironment } from '../infra/vitest.ts';
import { count } from '../observe/database.ts';
import { observeService } from '../observe/service.ts';
import { readTopic as observeTopic, recordCount as countRecords } from '../observe/topic.ts';
import { deadline } from '../util/deadline.ts';

const env = labEnvironment();
const report = (line: string) => console.log(`[consumer] ${line}`);
/** A value just below the broker's default max message size (1,048,588 bytes per record batch). */
const oversizedValueBytes = 1_048_400;

// No topic set of the arena's own: each scenario makes one (`arena.topicSet`).
const arena = fileArena(env, 'consumer', 2, { topics: false });
let producer: Producer;
let gateway: RunningService;
const running: RunningService[] = [];

beforeAll(async () => {
  producer = kafka(env, `consumer-test-${arena.id}`, { retry: { retries: 10, initialRetryTime: 200 } }).producer({ idempotent: true });
  await producer.connect();
  arena.defer(() => producer.disconnect());
  gateway = arena.own(await startService('notification-gateway', {}));
});

/** A step without a timeout of its own, bounded (lab/util/deadline.ts): a hang fails the test and names the step. */
const within = <T>(what: string, ms: number, step: Promise<T>): Promise<T> => deadline(step, ms, () => new Error(`${what} did not finish within ${ms} ms`));

afterEach(async () => {
  failpoints.clear();
  // Stop each scenario's consumer even when its test failed.
  while (running.length) await within('stopping the consumer-service', 45_000, running.pop()!.stop());
});

afterAll(async () => {
  failpoints.clear();
  while (running.length) await running.pop()!.stop().catch(() => undefined);
});

interface Scenario {
  topics: TopicNames;
  serde: EnvelopeSerde;
  config(extra?: Partial<ConsumerConfig>): ConsumerConfig;
  /** An envelope as a record per the pipeline contract: key = account id, registry-encoded value, envelope headers. */
  record(e: EventEnvelope, partition?: number): Promise<Message>;
  /** Records (contract ones, or poison) to the events topic with acks=all, in the order given. */
  send(messages: Message[]): Promise<RecordMetadata[]>;
}

/** A fresh topic set and consumer group for one scenario. */
async function scenario(name: string): Promise<Scenario> {
  const base = await within(`creating the ${name} topics`, 60_000, arena.topicSet(name, 2, [200, 400, 800]));
  const groupId = `${arena.id}.${name}.projection`;
  const serde = new EnvelopeSerde(new RegistrySchemaSource(env.descriptor.schemaRegistry.url), { subject: `${base.topics.events}-value` });
  return {
    topics: base.topics,
    serde,
    // 'error': the scenarios' failures are expected; their warn lines would bury the report lines.
    config: (extra = {}) => ({ ...base, groupId, logLevel: 'error', ...extra }),
    record: async (e, partition) => ({ key: e.aggregateId, value: await serde.encode(e), headers: envelopeHeaders(e), ...(partition === undefined ? {} : { partition }) }),
    send: (messages) => within(`producing ${messages.length} records to ${base.topics.events}`, 30_000, producer.send({ topic: base.topics.events, acks: -1, messages })),
  };
}

async function start(config: ConsumerConfig): Promise<RunningService> {
  const service = await within('starting the consumer-service', 60_000, startService('consumer', config));
  running.push(service);
  return service;
}

/** An account's event stream with contract versions: AccountOpened = 1, then +1 per event. */
function account(accountId: string) {
  let version = 0;
  return {
    id: accountId,
    event(payload: WalletEventPayload): EventEnvelope {
      version += 1;
      return newEnvelope(payload, { id: accountId, version });
    },
  };
}

/** Produces envelopes per the contract, in order (one send: per-key order is the order given). */
async function produce(s: Scenario, envelopes: EventEnvelope[]): Promise<void> {
  await s.send(await Promise.all(envelopes.map((e) => s.record(e))));
}

async function projection(accountId: string): Promise<{ balance: number; version: number; last_event_id: string } | undefined> {
  const [rows] = await arena.database.pool.query('SELECT balance, version, last_event_id FROM account_balance_view WHERE account_id = ?', [accountId]);
  const row = (rows as Array<{ balance: number | string; version: number | string; last_event_id: string }>)[0];
  return row && { balance: Number(row.balance), version: Number(row.version), last_event_id: row.last_event_id };
}

async function applications(eventIds: string[]): Promise<Record<string, number>> {
  const [rows] = await arena.database.pool.query('SELECT event_id, COUNT(*) AS n FROM applied_event_log WHERE event_id IN (?) GROUP BY event_id', [eventIds]);
  return Object.fromEntries((rows as Array<{ event_id: string; n: number }>).map((r) => [r.event_id, Number(r.n)]));
}

/** processed_event rows of the scenario's consumer group (the idempotent consumer's dedupe keys). */
const processedEvents = (s: Scenario) => count(arena.database.pool, 'processed_event', 'consumer_group = ?', [s.config().groupId]);

/** How often the notification gateway got each event id. */
async function deliveries(): Promise<Record<string, number>> {
  return ((await (await request(`${gateway.url}/notifications`)).body.json()) as { deliveriesByEventId: Record<string, number> }).deliveriesByEventId;
}

const recordCount = (topic: string) => within(`reading the offsets of ${topic}`, 30_000, countRecords(arena.admin, topic));
/** `expected` records of `topic`, read from the beginning by an independent observer. */
const readTopic = (topic: string, expected: number) => observeTopic(env, topic, { expected, quietMs: 0, timeoutMs: 30_000 });

describe('consumer-service', () => {
  it('idempotent: applies the projection once per event, notifies once, invalidates the cache', async () => {
    const s = await scenario('idem');
    const a = account(`${arena.id}-a`);
    const b = account(`${arena.id}-b`);
    const events = [
      a.event({ type: 'AccountOpened', accountId: a.id, owner: 'alice', currency: 'EUR' }),
      a.event({ type: 'FundsDeposited', accountId: a.id, amount: 1000 }),
      b.event({ type: 'AccountOpened', accountId: b.id, owner: 'bob', currency: 'EUR' }),
      a.event({ type: 'FundsWithdrawn', accountId: a.id, amount: 300 }),
      a.event({ type: 'TransferDebited', transferId: 't-1', accountId: a.id, counterpartyAccountId: b.id, amount: 200 }),
      b.event({ type: 'TransferCredited', transferId: 't-1', accountId: b.id, counterpartyAccountId: a.id, amount: 200 }),
      b.event({ type: 'FundsDeposited', accountId: b.id, amount: 50 }),
    ];
    // A cached balance of b: the consumer must delete it after applying b's events.
    await arena.redis().set(balanceKey(arena.keyPrefix, b.id), JSON.stringify({ accountId: b.id, balance: 0, version: 1 }));
    const startedAt = Date.now();
    const service = await start(s.config({ notificationUrl: gateway.url, redis: arena.redisConfig() }));
    // The deposit of a, produced twice: a redelivery as the consumer sees it.
    await produce(s, [...events, events[1]!]);

    // The service counts an event after its COMMIT returns, and InnoDB makes a commit visible to other
    // sessions before it answers the committer: the projection can be read a moment before the
    // counters move (a CI run scraped 4 of 7). Wait for the counters too, then assert them exactly.
    await waitFor(
      'projection of a and b, and the counters',
      async () =>
        (await projection(a.id))?.version === 4 &&
        (await projection(b.id))?.version === 3 &&
        (await service.metrics.value('duplicates_skipped_total')) >= 1 &&
        (await service.metrics.value('events_applied_total')) >= events.length,
      { timeoutMs: 60_000 },
    );
    report(`idempotent: 8 records applied in ${Date.now() - startedAt} ms (incl. group join)`);

    expect(await projection(a.id)).toEqual({ balance: 1000 - 300 - 200, version: 4, last_event_id: events[4]!.eventId });
    expect(await projection(b.id)).toEqual({ balance: 250, version: 3, last_event_id: events[6]!.eventId });
    const ids = events.map((e) => e.eventId);
    expect(await applications(ids)).toEqual(Object.fromEntries(ids.map((eventId) => [eventId, 1])));
    expect(await processedEvents(s)).toBe(events.length);
    expect(await service.metrics.value('duplicates_skipped_total')).toBe(1);
    expect(await service.metrics.value('events_applied_total')).toBe(events.length);
    expect(await service.metrics.value('dlq_total')).toBe(0);

    const delivered = await deliveries();
    for (const eventId of ids) expect(delivered[eventId]).toBe(1);
    expect(await arena.redis().exists(balanceKey(arena.keyPrefix, b.id))).toBe(0);

    const exposed = observeService(service);
    expect(await exposed.metric('e2e_latency_seconds_count')).toBe(7);
    // Lag is set after the batch's offset commit, which comes after the counters above (they count at the
    // DB commit): wait for it rather than race it (a CI run read /metrics in between).
    await waitFor('the consumer to report its lag', async () => (await exposed.metrics()).some((sample) => sample.name === 'consumer_lag'), { timeoutMs: 15_000 });
  });

  it('naive: the same record twice is applied and notified twice (E-003 anti-pattern)', async () => {
    const s = await scenario('naive');
    const n = account(`${arena.id}-n`);
    const opened = n.event({ type: 'AccountOpened', accountId: n.id, owner: 'nina', currency: 'EUR' });
    const deposit = n.event({ type: 'FundsDeposited', accountId: n.id, amount: 100 });
    const service = await start(s.config({ mode: 'naive', notificationUrl: gateway.url }));
    await produce(s, [opened, deposit, deposit]);

    await waitFor('both copies of the deposit applied', async () => (await applications([deposit.eventId]))[deposit.eventId] === 2, { timeoutMs: 60_000 });
    expect(await projection(n.id)).toEqual({ balance: 200, version: 2, last_event_id: deposit.eventId });
    expect(await service.metrics.value('duplicates_skipped_total')).toBe(0);
    expect(await processedEvents(s)).toBe(0);
    expect((await deliveries())[deposit.eventId]).toBe(2);
    report('naive: duplicated deposit applied 2x, balance 200 instead of 100');
  });

  it('poison: undecodable and invalid records go to the DLQ, the good record behind them is applied', async () => {
    const s = await scenario('poison');
    const p = account(`${arena.id}-p`);
    const ghost = account(`${arena.id}-ghost`);
    ghost.event({ type: 'AccountOpened', accountId: ghost.id, owner: 'never', currency: 'EUR' }); // never produced
    const unknownAccount = ghost.event({ type: 'FundsDeposited', accountId: ghost.id, amount: 10 });
    const opened = p.event({ type: 'AccountOpened', accountId: p.id, owner: 'pat', currency: 'EUR' });
    const zero = p.event({ type: 'FundsDeposited', accountId: p.id, amount: 0 });
    const good = account(p.id);
    good.event({ type: 'AccountOpened', accountId: p.id, owner: 'pat', currency: 'EUR' });
    const deposit = good.event({ type: 'FundsDeposited', accountId: p.id, amount: 70 });
    // Everything on partition 0, in this order: four poison records, then good ones.
    const partition = 0;
    const messages = [
      { value: Buffer.from(JSON.stringify({ eventId: 'x', amount: 5 })), headers: { [eventHeaders.eventId]: 'json-1' } },
      { value: frame(999_999_999, Buffer.from([2, 4, 6])), headers: { [eventHeaders.eventId]: 'unknown-id-1' } },
      await s.record(unknownAccount),
      await s.record(opened),
      await s.record(zero),
      await s.record(deposit),
    ].map((m) => ({ ...m, key: p.id, partition })); // every record keyed p (the ghost's deposit too)
    const [sent] = await s.send(messages);
    const base = Number(sent!.baseOffset);
    const service = await start(s.config());

    await waitFor('the good records applied', async () => (await projection(p.id))?.version === 2, { timeoutMs: 60_000 });
    expect(await projection(p.id)).toEqual({ balance: 70, version: 2, last_event_id: deposit.eventId });
    const dead = (await readTopic(s.topics.dlq, 4)).sort((x, y) => Number(x.headers[failureHeaders.originalOffset]) - Number(y.headers[failureHeaders.originalOffset]));
    expect(dead).toHaveLength(4);
    const expected = [
      { errorClass: 'bad-magic-byte', offset: base, eventId: 'json-1' },
      { errorClass: 'unknown-schema-id', offset: base + 1, eventId: 'unknown-id-1' },
      { errorClass: 'unknown-account', offset: base + 2, eventId: unknownAccount.eventId },
      { errorClass: 'invalid-amount', offset: base + 4, eventId: zero.eventId },
    ];
    dead.forEach((record, i) => {
      expect(record.headers).toMatchObject({
        [failureHeaders.errorClass]: expected[i]!.errorClass,
        [failureHeaders.originalTopic]: s.topics.events,
        [failureHeaders.originalPartition]: String(partition),
        [failureHeaders.originalOffset]: String(expected[i]!.offset),
        [failureHeaders.attempts]: '1',
        [failureHeaders.consumerGroup]: s.config().groupId,
        [eventHeaders.eventId]: expected[i]!.eventId,
      });
      expect(record.headers[failureHeaders.errorMessage]!.length).toBeGreaterThan(0);
      expect(record.key).toBe(p.id);
    });
    // The poison record's bytes are kept as they were, for inspection and replay.
    expect(dead[0]!.value?.toString()).toBe(JSON.stringify({ eventId: 'x', amount: 5 }));
    expect(await service.metrics.value('dlq_total')).toBe(4);
    expect(await service.metrics.value('retries_total')).toBe(0);
    for (const topic of s.topics.retry) expect(await recordCount(topic)).toBe(0);
    report('poison: 4 records to the DLQ at once, partition 0 kept flowing');
  });

  it('oversized poison: a ~1 MiB record too large for the DLQ reaches it as a truncated fallback; the records behind it flow', async () => {
    const s = await scenario('oversized');
    const o = account(`${arena.id}-o`);
    const q = account(`${arena.id}-q`);
    const openedO = o.event({ type: 'AccountOpened', accountId: o.id, owner: 'olga', currency: 'EUR' });
    const depositO = o.event({ type: 'FundsDeposited', accountId: o.id, amount: 40 });
    const openedQ = q.event({ type: 'AccountOpened', accountId: q.id, owner: 'quinn', currency: 'EUR' });
    // Just below the broker's default max message (1 MiB + 12): the record batch fits the events topic,
    // the same value plus the DLQ's failure headers does not.
    const size = oversizedValueBytes;
    const big = Buffer.alloc(size, 'x');
    big.write('{"not":"avro"}');
    const [sent] = await s.send([{ partition: 0, key: o.id, value: big, headers: { [eventHeaders.eventId]: 'huge-1' } }]);
    const bigOffset = sent!.baseOffset;
    // Behind it on the same partition, and on the other partition.
    await s.send([await s.record(openedO, 0), await s.record(depositO, 0), await s.record(openedQ, 1)]);
    const service = await start(s.config());

    await waitFor('the records behind the oversized one applied', async () => (await projection(o.id))?.version === 2 && (await projection(q.id))?.version === 1, { timeoutMs: 45_000 });
    const [dead] = await readTopic(s.topics.dlq, 1);
    expect(dead!.headers).toMatchObject({
      [failureHeaders.errorClass]: 'bad-magic-byte',
      [failureHeaders.originalTopic]: s.topics.events,
      [failureHeaders.originalPartition]: '0',
      [failureHeaders.originalOffset]: bigOffset,
      [failureHeaders.attempts]: '1',
      [failureHeaders.valueTruncated]: 'true',
      [failureHeaders.originalValueBytes]: String(size),
      [eventHeaders.eventId]: 'huge-1',
    });
    // A prefix of the original, for inspection; the coordinates above name the full record.
    expect(dead!.value!.length).toBeGreaterThan(0);
    expect(dead!.value!.length).toBeLessThan(size);
    expect(big.subarray(0, dead!.value!.length).equals(dead!.value!)).toBe(true);
    expect(dead!.key).toBe(o.id);
    expect(await service.metrics.value('dlq_total')).toBe(1);
    const health = await request(`${service.url}/health`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    report(`oversized: ${size}-byte poison → DLQ as a ${dead!.value!.length}-byte truncated fallback, both partitions kept flowing`);
  });

  it('oversized transient failure: a retry topic that rejects the record as too large hands it to the DLQ, saying why', async () => {
    const s = await scenario('oversized-retry');
    const big = Buffer.alloc(oversizedValueBytes, 'y');
    failpoints.set('consumer.apply', 'error(count=1)');
    const [sent] = await s.send([{ partition: 1, key: 'big', value: big, headers: { [eventHeaders.eventId]: 'huge-2' } }]);
    const service = await start(s.config());

    const [dead] = await readTopic(s.topics.dlq, 1);
    expect(dead!.headers).toMatchObject({
      [failureHeaders.errorClass]: 'FailpointError',
      [failureHeaders.retryRejected]: 'MESSAGE_TOO_LARGE',
      [failureHeaders.valueTruncated]: 'true',
      [failureHeaders.originalValueBytes]: String(oversizedValueBytes),
      [failureHeaders.originalPartition]: '1',
      [failureHeaders.originalOffset]: sent!.baseOffset,
      [failureHeaders.attempts]: '1',
    });
    expect(await service.metrics.value('retries_total')).toBe(0);
    expect(await service.metrics.value('dlq_total')).toBe(1);
    for (const topic of s.topics.retry) expect(await recordCount(topic)).toBe(0);
    report('oversized transient: retry-1 rejected it as too large → DLQ fallback with lab.retry-rejected');
  });

  it('a consumer that crashes for good exits non-zero (here: a DLQ that rejects every dead letter), never lives on idle', async () => {
    // The DLQ exists before ensureTopics (which leaves it alone) with a limit no record can meet, so the
    // poison record below can neither be processed nor parked: kafkajs crashes with restart = false.
    const base = commonConfig(env, { database: arena.id, topicPrefix: `${arena.id}.crash.`, retryDelaysMs: [200, 400, 800] });
    await within('creating the crash DLQ', 60_000, arena.admin.createTopics({ topics: [{ topic: base.topics.dlq, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '1' }] }], waitForLeaders: true }));
    const s = await scenario('crash');
    const service = await startServiceProcess('consumer', s.config());
    try {
      await s.send([{ partition: 0, key: 'k', value: Buffer.from('not avro'), headers: { [eventHeaders.eventId]: 'crash-1' } }]);
      await service.exited(45_000);
      const log = service.log();
      expect(log).toMatch(/"level":60[^\n]*kafka consumer crashed and will not restart/);
      expect(log).toMatch(/DeadLetterRejectedError|rejects even a bare dead letter/);
      expect(log).toContain('consumer failed: ');
      expect(log).toContain('exiting with code 1');
      await waitFor('the exit status', async () => service.exitStatus() !== undefined, { timeoutMs: 5000, intervalMs: 20 });
      expect(service.exitStatus()).toEqual({ code: 1, signal: null });
      expect(await recordCount(s.topics.dlq)).toBe(0);
      report('crash: DLQ rejecting every record → fatal log line, process exited with code 1');
    } finally {
      await service.kill().catch(() => undefined);
    }
  });

  it('transient: a failure twice heals through retry-1 and retry-2 and never reaches the DLQ', async () => {
    const s = await scenario('retry');
    const r = account(`${arena.id}-r`);
    const opened = r.event({ type: 'AccountOpened', accountId: r.id, owner: 'rita', currency: 'EUR' });
    failpoints.set('consumer.apply', 'error(count=2)');
    const service = await start(s.config());
    const startedAt = Date.now();
    await produce(s, [opened]);

    await waitFor('the event applied after retries', async () => (await projection(r.id))?.version === 1, { timeoutMs: 60_000 });
    const tookMs = Date.now() - startedAt;
    expect(failpoints.stats()['consumer.apply']?.fired).toBe(2);
    expect(await service.metrics.value('retries_total')).toBe(2);
    expect(await recordCount(s.topics.retry[0]!)).toBe(1);
    expect(await recordCount(s.topics.retry[1]!)).toBe(1);
    expect(await recordCount(s.topics.retry[2]!)).toBe(0);
    expect(await recordCount(s.topics.dlq)).toBe(0);
    expect(await service.metrics.value('dlq_total')).toBe(0);
    expect(await applications([opened.eventId])).toEqual({ [opened.eventId]: 1 });
    // The two retry delays (200 + 400 ms) were honoured.
    expect(tookMs).toBeGreaterThanOrEqual(600);
    const [retried] = await readTopic(s.topics.retry[1]!, 1);
    expect(retried!.headers).toMatchObject({ [failureHeaders.attempts]: '2', [failureHeaders.errorClass]: 'FailpointError', [failureHeaders.originalTopic]: s.topics.events, [eventHeaders.eventId]: opened.eventId });
    expect(Number(retried!.headers[failureHeaders.retryNotBefore])).toBeGreaterThanOrEqual(Number(retried!.headers[failureHeaders.firstFailureAt]) + 400);
    report(`transient: applied after 2 retries in ${tookMs} ms`);
  });

  it('transient beyond maxAttempts: the same failure ends in the DLQ with its attempts', async () => {
    const s = await scenario('exhaust');
    const x = account(`${arena.id}-x`);
    const opened = x.event({ type: 'AccountOpened', accountId: x.id, owner: 'xavier', currency: 'EUR' });
    failpoints.set('consumer.apply', 'error(count=2)');
    const service = await start(s.config({ maxAttempts: 2 }));
    await produce(s, [opened]);

    const [dead] = await readTopic(s.topics.dlq, 1);
    expect(dead!.headers).toMatchObject({
      [failureHeaders.attempts]: '2',
      [failureHeaders.errorClass]: 'FailpointError',
      [failureHeaders.originalTopic]: s.topics.events,
      [eventHeaders.eventId]: opened.eventId,
    });
    expect(dead!.headers).not.toHaveProperty(failureHeaders.retryNotBefore);
    expect(await s.serde.decode(dead!.value)).toEqual(opened);
    expect(await service.metrics.value('retries_total')).toBe(1);
    expect(await service.metrics.value('dlq_total')).toBe(1);
    expect(await projection(x.id)).toBeUndefined();
    report('exhausted: DLQ after 2 attempts');
  });

  it('retryTopics=false: retries in place (blocking) and applies', async () => {
    const s = await scenario('inplace');
    const y = account(`${arena.id}-y`);
    const opened = y.event({ type: 'AccountOpened', accountId: y.id, owner: 'yuri', currency: 'EUR' });
    failpoints.set('consumer.apply', 'error(count=1)');
    const service = await start(s.config({ retryTopics: false }));
    await produce(s, [opened]);
    await waitFor('the event applied after an in-place retry', async () => (await projection(y.id))?.version === 1, { timeoutMs: 60_000 });
    expect(await service.metrics.value('retries_total')).toBe(1);
    expect(await observeService(service).metric('retries_total', { level: 'in-place' })).toBe(1);
    for (const topic of s.topics.retry) expect(await recordCount(topic)).toBe(0);
    expect(await recordCount(s.topics.dlq)).toBe(0);
  });
});

describe('consumer-service: batch apply (the idempotent default)', () => {
  /** `accounts` accounts opened, then `perAccount` deposits each, interleaved; amounts vary. */
  function backlog(prefix: string, accounts: number, perAccount: number) {
    const streams = Array.from({ length: accounts }, (_, i) => account(`${arena.id}-${prefix}${i}`));
    const events: EventEnvelope[] = streams.map((a) => a.event({ type: 'AccountOpened', accountId: a.id, owner: 'batch', currency: 'EUR' }));
    for (let round = 0; round < perAccount; round += 1) for (const [i, a] of streams.entries()) events.push(a.event({ type: 'FundsDeposited', accountId: a.id, amount: 1 + ((round * 7 + i) % 50) }));
    const expected = new Map(streams.map((a) => [a.id, { balance: 0, version: perAccount + 1 }]));
    for (const e of events) if (e.payload.type === 'FundsDeposited') expected.get(e.aggregateId)!.balance += e.payload.amount;
    return { streams, events, expected };
  }

  it('a 1,000-event backlog is applied in batch transactions: every event once, far fewer SQL statements than events', async () => {
    const s = await scenario('batch');
    const { events, expected } = backlog('bk', 20, 49);
    await produce(s, events); // all on the topic before the consumer starts: it fetches full batches
    const startedAt = Date.now();
    const service = await start(s.config());
    await waitFor('every event applied', async () => (await service.metrics.value('events_applied_total')) >= events.length, { timeoutMs: 60_000 });
    const tookMs = Date.now() - startedAt;

    for (const [accountId, { balance, version }] of expected) expect(await projection(accountId)).toMatchObject({ balance, version });
    const counts = await applications(events.map((e) => e.eventId));
    expect(Object.values(counts).filter((n) => n === 1)).toHaveLength(events.length);
    expect(await service.metrics.value('batch_fallbacks_total')).toBe(0);
    // One by one costs >= 4 statements per event (dedupe, update, log, and the transaction's own); a
    // batch costs 4 for all of its events. 1,000 events in 2 partitions: a few dozen batches at most.
    const statements = await service.metrics.value('db_queries_total');
    expect(statements).toBeLessThan(events.length / 5);
    report(`batch: ${events.length} events applied in ${tookMs} ms (incl. group join) with ${statements} SQL statements, no fallback`);
  });

  it('a duplicate inside a batch, and one applied by an earlier batch: each applied once, the rest of the batch applied', async () => {
    const s = await scenario('batch-dup');
    const { streams, events, expected } = backlog('bd', 3, 4);
    const [first] = streams;
    // A redelivery inside one fetch: the same record twice, between others.
    await produce(s, [...events.slice(0, 6), events[3]!, ...events.slice(6)]);
    const service = await start(s.config());
    // The duplicate may sit in another partition than the last record applied: wait for its skip too.
    await waitFor('the first backlog applied', async () => (await service.metrics.value('events_applied_total')) >= events.length && (await service.metrics.value('duplicates_skipped_total')) >= 1, { timeoutMs: 60_000 });
    // Each applied once: the in-fetch duplicate was skipped, not applied. Not "skipped exactly 1": a
    // rebalance before the batch's offset commit redelivers the whole batch, which is skipped too (seen
    // once in 6 runs: 12 skipped) — exactly-once effects, which is the claim, still hold.
    expect(await service.metrics.value('events_applied_total')).toBe(events.length);
    expect(await service.metrics.value('duplicates_skipped_total')).toBeGreaterThanOrEqual(1);
    const skippedAfterFirst = await service.metrics.value('duplicates_skipped_total');
    const fallbacksAfterFirst = await service.metrics.value('batch_fallbacks_total');
    expect(fallbacksAfterFirst).toBeGreaterThanOrEqual(1);

    // A batch holding a record a previous batch applied (processed_event answers 1062), then new events.
    const more = [first!.event({ type: 'FundsDeposited', accountId: first!.id, amount: 1000 }), first!.event({ type: 'FundsWithdrawn', accountId: first!.id, amount: 1 })];
    await produce(s, [events[1]!, ...more]);
    // events[1] is not necessarily in first's partition: its skip is not ordered with first's version 7.
    await waitFor(
      'the second batch applied and the redelivery skipped',
      async () => (await projection(first!.id))?.version === 7 && (await service.metrics.value('duplicates_skipped_total')) >= skippedAfterFirst + 1 && (await service.metrics.value('events_applied_total')) >= events.length + more.length,
      { timeoutMs: 60_000 },
    );
    expect(await service.metrics.value('events_applied_total')).toBe(events.length + more.length);
    expect(await service.metrics.value('duplicates_skipped_total')).toBeGreaterThanOrEqual(skippedAfterFirst + 1);
    expect(await service.metrics.value('batch_fallbacks_total')).toBeGreaterThan(fallbacksAfterFirst);

    const all = [...events, ...more];
    expect(await applications(all.map((e) => e.eventId))).toEqual(Object.fromEntries(all.map((e) => [e.eventId, 1])));
    for (const [accountId, value] of expected) {
      const extra = accountId === first!.id ? { balance: value.balance + 999, version: 7 } : value;
      expect(await projection(accountId)).toMatchObject(extra);
    }
    expect(await service.metrics.value('dlq_total')).toBe(0);
    report('batch duplicates: one inside a fetch, one from an earlier batch → both skipped, everything else applied once');
  });

  it('poison records inside a batch go to the DLQ on their own; the records around them are applied in batches', async () => {
    const s = await scenario('batch-poison');
    const a = account(`${arena.id}-bp`);
    const opened = a.event({ type: 'AccountOpened', accountId: a.id, owner: 'paula', currency: 'EUR' });
    const deposits = [10, 20, 30].map((amount) => a.event({ type: 'FundsDeposited', accountId: a.id, amount }));
    await s.send([
      await s.record(opened, 0),
      await s.record(deposits[0]!, 0),
      { partition: 0, key: a.id, value: Buffer.from('{"not":"avro"}'), headers: { [eventHeaders.eventId]: 'batch-json' } },
      await s.record(deposits[1]!, 0),
      { partition: 0, key: a.id, value: frame(999_999_998, Buffer.from([1, 2])), headers: { [eventHeaders.eventId]: 'batch-unknown-schema' } },
      await s.record(deposits[2]!, 0),
    ]);
    const service = await start(s.config());

    // Counters move after COMMIT returns, a moment after the projection is visible: wait for both.
    await waitFor('the good records applied', async () => (await projection(a.id))?.version === 4 && (await service.metrics.value('events_applied_total')) >= 4, { timeoutMs: 60_000 });
    expect(await projection(a.id)).toMatchObject({ balance: 60, version: 4, last_event_id: deposits[2]!.eventId });
    const dead = await readTopic(s.topics.dlq, 2);
    expect(dead.map((record) => record.headers[failureHeaders.errorClass]).sort()).toEqual(['bad-magic-byte', 'unknown-schema-id']);
    expect(await service.metrics.value('dlq_total')).toBe(2);
    expect(await service.metrics.value('batch_fallbacks_total')).toBe(0);
    expect(await service.metrics.value('events_applied_total')).toBe(4);
    report('batch poison: 2 poison records → DLQ between 4 good ones applied in batches, no fallback');
  });
});
