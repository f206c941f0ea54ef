/**
 * outbox-relay against the real MariaDB, Kafka and schema registry (relays in process).
 *
 * Question  Does the relay publish every committed outbox row exactly once (without faults) and in
 *           per-account version order, also with two relays sharing the outbox; and when Kafka is
 *           unreachable, does it keep the rows, record the failure and publish them once Kafka is back?
 * Setup     A fresh database; outbox rows written as the command-service writes them (outboxRow),
 *           interleaved across accounts; a topic set per case. An independent consumer reads the topic
 *           back and decodes every value with EnvelopeSerde.
 * Fault     A relay whose broker list is a closed port (127.0.0.1:1): every send fails.
 * Expected  Every event id exactly once on the topic, versions 1, 2, 3 … per account in partition order,
 *           backlog 0, both relays doing part of the work. With Kafka unreachable: nothing published,
 *           attempts > 0 and last_error on the rows; a healthy relay then drains them, each once.
 * Numbers   `[outbox-relay] …`: drain time and how the two relays split the work.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvelopeSerde, newEnvelope, RegistrySchemaSource, type EventEnvelope } from '../../src/envelope/index.ts';
import { eventHeaders, readHeaders } from '../../src/kafka/headers.ts';
import { ensureTopics } from '../../src/kafka/topics.ts';
import { outboxRow } from '../../src/services/command/outbox.ts';
import { startOutboxRelay, type RelayConfig } from '../../src/services/relay/index.ts';
import type { RunningService } from '../../src/services/service.ts';
import { kafka } from '../infra/clients.ts';
import { deleteTopicsWithPrefix, isolationId, type IsolatedDatabase } from '../infra/isolation.ts';
import { sleep, waitFor } from '../infra/ports.ts';
import { commonConfig, createMigratedDatabase } from '../infra/services.ts';
import { labEnvironment } from '../infra/vitest.ts';

const env = labEnvironment();
const id = isolationId(env, 'relay');
const report = (line: string) => console.log(`[outbox-relay] ${line}`);

let database: IsolatedDatabase;
let client: Kafka;
let admin: Admin;
const running: RunningService[] = [];
const groups: string[] = [];
const subjects: string[] = [];

beforeAll(async () => {
  database = await createMigratedDatabase(env, id);
  client = kafka(env, `${id}-test`);
  admin = client.admin();
  await admin.connect();
});

afterAll(async () => {
  while (running.length) await running.pop()!.stop().catch(() => undefined);
  if (admin) {
    await admin.deleteGroups(groups).catch(() => undefined);
    await deleteTopicsWithPrefix(admin, id).catch(() => undefined);
    await admin.disconnect();
  }
  for (const subject of subjects) {
    const url = `${env.descriptor.schemaRegistry.url}/subjects/${encodeURIComponent(subject)}`;
    await fetch(url, { method: 'DELETE' }).catch(() => undefined);
    await fetch(`${url}?permanent=true`, { method: 'DELETE' }).catch(() => undefined);
  }
  await database?.drop();
});

/** A config with its own topic set (one per case, so each case reads only its own records). */
async function caseConfig(name: string): Promise<RelayConfig> {
  const config = commonConfig(env, { database: id, topicPrefix: `${id}.${name}.` });
  await ensureTopics(admin, config.topics);
  subjects.push(`${config.topics.events}-value`);
  return config;
}

async function startRelay(config: RelayConfig): Promise<RunningService> {
  const relay = await startOutboxRelay(config);
  running.push(relay);
  return relay;
}

async function stopRelay(relay: RunningService): Promise<void> {
  await relay.stop();
  running.splice(running.indexOf(relay), 1);
}

/**
 * Outbox rows for `accounts` accounts with `perAccount` events each (AccountOpened, then deposits),
 * inserted interleaved across accounts with a seeded shuffle, per-account versions ascending.
 */
async function writeOutbox(prefix: string, accounts: number, perAccount: number, seed = 7): Promise<EventEnvelope[]> {
  let state = seed;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  const ids = Array.from({ length: accounts }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
  const versions = new Map(ids.map((accountId) => [accountId, 0]));
  const envelopes: EventEnvelope[] = [];
  while (envelopes.length < accounts * perAccount) {
    const open = ids.filter((accountId) => versions.get(accountId)! < perAccount);
    const accountId = open[Math.floor(next() * open.length)]!;
    const version = versions.get(accountId)! + 1;
    versions.set(accountId, version);
    envelopes.push(
      version === 1
        ? newEnvelope({ type: 'AccountOpened', accountId, owner: `owner ${accountId}`, currency: 'EUR' }, { id: accountId, version })
        : newEnvelope({ type: 'FundsDeposited', accountId, amount: version * 10 }, { id: accountId, version }),
    );
  }
  for (let i = 0; i < envelopes.length; i += 500) {
    await database.pool.query('INSERT INTO outbox_event (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, shard, payload, headers) VALUES ?', [
      envelopes.slice(i, i + 500).map((envelope) => outboxRow(envelope, 16)),
    ]);
  }
  return envelopes;
}

interface TopicRecord {
  partition: number;
  offset: number;
  key: string;
  headerEventId: string;
  envelope: EventEnvelope;
}

/** Reads the topic from the beginning until `expected` records arrived, plus a second for extras. */
async function readTopic(config: RelayConfig, expected: number): Promise<TopicRecord[]> {
  const groupId = `${id}.reader-${groups.length + 1}`;
  groups.push(groupId);
  const serde = new EnvelopeSerde(new RegistrySchemaSource(config.schemaRegistryUrl), { subject: `${config.topics.events}-value` });
  const consumer = client.consumer({ groupId, maxWaitTimeInMs: 200 });
  const records: TopicRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: config.topics.events, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          records.push({
            partition: batch.partition,
            offset: Number(message.offset),
            key: message.key!.toString(),
            headerEventId: readHeaders(message.headers)[eventHeaders.eventId]!,
            envelope: await serde.decode(message.value),
          });
        }
      },
    });
    await waitFor(`${expected} records on ${config.topics.events}`, async () => records.length >= expected, { timeoutMs: 60_000, intervalMs: 200 });
    await sleep(1000); // anything arriving now is a duplicate
    return [...records];
  } finally {
    await consumer.disconnect();
  }
}

/** Exactly once per event id, and per account versions 1, 2, 3 … in partition order. */
function check(records: TopicRecord[], written: EventEnvelope[]) {
  const counts = new Map<string, number>();
  for (const record of records) counts.set(record.envelope.eventId, (counts.get(record.envelope.eventId) ?? 0) + 1);
  const writtenIds = new Set(written.map((e) => e.eventId));
  const ordered = [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const last = new Map<string, number>();
  const outOfOrder: string[] = [];
  for (const record of ordered) {
    const previous = last.get(record.key) ?? 0;
    if (record.envelope.aggregateVersion !== previous + 1) outOfOrder.push(`${record.key}: v${previous} then v${record.envelope.aggregateVersion}`);
    last.set(record.key, record.envelope.aggregateVersion);
  }
  return {
    duplicated: [...counts].filter(([, n]) => n > 1).map(([eventId]) => eventId),
    missing: written.filter((e) => !counts.has(e.eventId)).map((e) => e.eventId),
    unexpected: records.filter((r) => !writtenIds.has(r.envelope.eventId)).map((r) => r.envelope.eventId),
    wrongKeyOrHeader: records.filter((r) => r.key !== r.envelope.aggregateId || r.headerEventId !== r.envelope.eventId).length,
    outOfOrder,
  };
}

const clean = { duplicated: [], missing: [], unexpected: [], wrongKeyOrHeader: 0, outOfOrder: [] };

async function unpublished(eventIds: string[]): Promise<number> {
  const [[row]] = await database.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM outbox_event WHERE published_at IS NULL AND event_id IN (?)', [eventIds]);
  return Number(row!.n);
}

describe('outbox-relay', () => {
  it('drains pre-written outbox rows to the topic, each event once, in version order per account', async () => {
    const config = await caseConfig('one');
    const written = await writeOutbox('one', 10, 30);
    const relay = await startRelay({ ...config, relayId: 'relay-one' });
    const records = await readTopic(config, written.length);
    expect(check(records, written)).toEqual(clean);
    expect(records.find((r) => r.envelope.eventId === written[0]!.eventId)?.envelope).toEqual(written[0]);
    await waitFor('the relay to mark every row', async () => (await unpublished(written.map((e) => e.eventId))) === 0, { timeoutMs: 10_000 });
    expect(await relay.metrics.value('relay_published_total')).toBe(written.length);
    expect(await relay.metrics.value('relay_publish_errors_total')).toBe(0);
    expect(await relay.metrics.value('outbox_backlog')).toBe(0);
    await stopRelay(relay);
  });

  it('never publishes an account past its oldest unpublished row while that row is still locked (a dying relay)', async () => {
    // When a relay dies mid-batch, MariaDB frees its GET_LOCK lease before its rollback frees the row
    // locks. Another connection holding the lock on an account's oldest row reproduces that window.
    const config = await caseConfig('locked');
    const written = await writeOutbox('locked', 1, 4); // one account: versions 1..4, one shard
    const [[first]] = await database.pool.query<RowDataPacket[]>('SELECT id FROM outbox_event WHERE event_id = ?', [written[0]!.eventId]);
    const holder = await database.pool.getConnection();
    try {
      await holder.beginTransaction();
      await holder.query('SELECT id FROM outbox_event WHERE id = ? FOR UPDATE', [first!.id]);
      const relay = await startRelay({ ...config, relayId: 'relay-locked', pollIntervalMs: 10 });
      await sleep(1500); // many passes: without the guard the relay would publish versions 2..4 now
      expect(await unpublished(written.map((e) => e.eventId))).toBe(written.length);
      await holder.rollback();
      const records = await readTopic(config, written.length);
      expect(check(records, written)).toEqual(clean);
      await stopRelay(relay);
    } finally {
      holder.release();
    }
  });

  it('two relays at once: 2,000 events across 50 accounts, each once, per-account order kept, backlog 0', async () => {
    const config = await caseConfig('two');
    const written = await writeOutbox('two', 50, 40, 11);
    const started = Date.now();
    // Small batches so the relays interleave on shards many times.
    const [a, b] = await Promise.all([startRelay({ ...config, relayId: 'relay-a', batchSize: 25 }), startRelay({ ...config, relayId: 'relay-b', batchSize: 25 })]);
    const records = await readTopic(config, written.length);
    await waitFor('backlog 0', async () => (await a!.metrics.value('outbox_backlog')) === 0, { timeoutMs: 30_000 });
    const byA = await a!.metrics.value('relay_published_total');
    const byB = await b!.metrics.value('relay_published_total');
    report(`two relays drained ${written.length} events in ≤ ${Date.now() - started} ms (incl. 1 s settle); relay-a ${byA}, relay-b ${byB}`);
    expect(check(records, written)).toEqual(clean);
    expect(byA + byB).toBe(written.length);
    expect(byA).toBeGreaterThan(0);
    expect(byB).toBeGreaterThan(0);
    expect(await unpublished(written.map((e) => e.eventId))).toBe(0);
    await Promise.all([stopRelay(a!), stopRelay(b!)]);
  });

  it('keeps rows and records the failure while Kafka is unreachable, then a healthy relay drains them once', async () => {
    const config = await caseConfig('fail');
    const written = await writeOutbox('fail', 8, 5, 23);
    const eventIds = written.map((e) => e.eventId);
    const broken = await startRelay({
      ...config,
      kafka: { brokers: ['127.0.0.1:1'] }, // nothing listens on port 1: every connect is refused
      relayId: 'relay-broken',
      producerRetry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 },
      backoff: { initialMs: 50, maxMs: 200 },
    });
    await waitFor(
      'every row to record a failed attempt',
      async () => {
        const [[row]] = await database.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM outbox_event WHERE attempts = 0 AND event_id IN (?)', [eventIds]);
        return Number(row!.n) === 0;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    await sleep(1000); // keep failing for a while: the shards back off and retry, nothing gets lost
    const errors = await broken.metrics.value('relay_publish_errors_total');
    expect(errors).toBeGreaterThan(0);
    expect(await broken.metrics.value('relay_published_total')).toBe(0);
    expect(await broken.metrics.value('outbox_backlog')).toBe(written.length);
    await stopRelay(broken);

    const [failed] = await database.pool.query<RowDataPacket[]>('SELECT attempts, last_error, published_at FROM outbox_event WHERE event_id IN (?)', [eventIds]);
    expect(failed).toHaveLength(written.length);
    for (const row of failed) {
      expect(row.published_at).toBeNull();
      expect(Number(row.attempts)).toBeGreaterThan(0);
      expect(String(row.last_error)).toMatch(/\S/);
    }
    const maxAttempts = Math.max(...failed.map((row) => Number(row.attempts)));
    report(`unreachable Kafka: ${errors} failed batches, up to ${maxAttempts} attempts per row, last_error e.g. "${String(failed[0]!.last_error).slice(0, 100)}"`);

    const healthy = await startRelay({ ...config, relayId: 'relay-healthy' });
    const records = await readTopic(config, written.length);
    expect(check(records, written)).toEqual(clean);
    await waitFor('the healthy relay to mark every row', async () => (await unpublished(eventIds)) === 0, { timeoutMs: 10_000 });
    expect(await healthy.metrics.value('relay_published_total')).toBe(written.length);
    await stopRelay(healthy);
  });
});
