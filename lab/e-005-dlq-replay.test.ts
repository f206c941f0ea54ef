/**
 * E-005 — DLQ and controlled replay.
 *
 * Question  Do non-blocking retry topics heal transient failures without ever parking them in the DLQ;
 *           do poison records (undecodable, unknown schema id, business-invalid) go to the DLQ with
 *           everything an operator needs, without holding up the good events on their partition; and
 *           can the DLQ be replayed under control (dry run, filter, rate limit, audit) so that replaying
 *           the same dead letters twice still applies each event once?
 * Setup     Per generated case a fresh database, topic set (3 partitions; retry topics at 200/400/800
 *           ms, maxAttempts 4 = the default: 3 retry topics + 1) and consumer group. The consumer-service (idempotent,
 *           processed_event dedupe) and the replay-worker run as their own OS processes; wallet events
 *           are produced straight to the topic per the pipeline contract (Avro, registry, event headers),
 *           good events of one account always on one explicit partition. Accounts are opened (and
 *           applied) before any fault: a retried AccountOpened would turn every later event of its
 *           account into `unknown-account` poison.
 * Fault     ✅ retry topics       failpoint `consumer.apply` armed over HTTP, in a generated schedule:
 *                                 one record failing 1–3 times in a row (through retry-1 … retry-3),
 *                                 then 1–3 consecutive failures at a generated position of the stream.
 *           ✅ poison isolation   a generated mix of poison records (JSON bytes, a truncated frame,
 *                                 magic 0 + an unknown schema id, a deposit for an account that does
 *                                 not exist, a deposit of amount 0, a ~1 MiB JSON value that fits the
 *                                 events topic but not the DLQ once the failure headers are added)
 *                                 interleaved on the SAME partitions
 *                                 as a paced stream of good deposits; a baseline phase without poison
 *                                 first, in the same run, with the same pacing.
 *           ✅ controlled replay  `consumer.apply = error()` (always) until every victim is in the DLQ
 *                                 after maxAttempts, plus poison; then the cause is fixed (disarmed) and
 *                                 the DLQ replayed through the replay-worker's POST /replays.
 * Expected  retry topics: every event applied exactly once, in per-account order, DLQ empty, retries =
 *             failpoint fires + version-gap holds exactly (each failure is one hop to a retry topic, and
 *             so is each later event of the same account that arrives while its predecessor is away:
 *             the consumer never applies over a version gap; none ends in the DLQ).
 *           poison: every poison record in the DLQ with error class, message, original topic/partition/
 *             offset, attempts = 1 and first-failure time, its bytes unchanged (the ~1 MiB one: a
 *             truncated prefix, marked lab.dlq.value-truncated with its full size); no retries; every
 *             good event applied.
 *           replay: victims in the DLQ with attempts = maxAttempts; a dry run audits every record
 *             ('dry-run') and publishes nothing; a filtered replay (event type + error class) publishes
 *             exactly the matching records at a measured rate ≤ its limit, one audit row per record with
 *             operator and reason; the replayed events are applied; replaying the same records again
 *             applies nothing more (applied once per event id, duplicates_skipped_total grows by the
 *             number replayed again).
 * Numbers   retries (per level), DLQ count (per error class), good-event latency p50/p99 (DB applied_at −
 *           send time) without and with poison flowing — numbers, not assertions —, replay rate vs limit:
 *           the worker's measurement (publishes / (first → last start + one spacing)) and one taken from
 *           the replayed records' own timestamps ((n − 1) / first → last), events applied out of
 *           per-account order by the retries. `[e-005] …` lines and the run report.
 */
import { randomUUID } from 'node:crypto';
import type { RowDataPacket } from 'mysql2';
import fc from 'fast-check';
import type { Admin, Producer } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDelivery, checkEffectsOnce, checkPerKeyOrder, summarize } from './checkers/index.ts';
import { scrapeMetric, walletEvents } from './clients/event-producer.ts';
import { assertProperty } from './generators/run.ts';
import { History } from './history/history.ts';
import { kafka } from './infra/clients.ts';
import { deleteTopicsWithPrefix, isolationId, type IsolatedDatabase } from './infra/isolation.ts';
import { sleep, waitFor } from './infra/ports.ts';
import { commonConfig, createMigratedDatabase, startServiceProcess, type ServiceProcess } from './infra/services.ts';
import { labEnvironment } from './infra/vitest.ts';
import { Nemesis } from './nemesis/nemesis.ts';
import { applications, projectedBalances } from './observe/database.ts';
import { readTopic, type ObservedRecord } from './observe/topic.ts';
import { recordArm } from './report/results.ts';
import { EnvelopeSerde, frame, newEnvelope, RegistrySchemaSource, type EventEnvelope } from '../src/envelope/index.ts';
import { eventHeaders, failureHeaders, type KafkaHeaders } from '../src/kafka/headers.ts';
import { ensureTopics } from '../src/kafka/topics.ts';
import type { ReplayReport } from '../src/services/replay/index.ts';
import { percentile } from './util/statistics.ts';

const env = labEnvironment();
const report = (line: string) => console.log(`[e-005] ${line}`);
const title = 'DLQ and controlled replay';
const partitions = 3;
const retryDelaysMs = [200, 400, 800];
/** The consumer's default: one attempt per retry topic, plus the first. */
const maxAttempts = retryDelaysMs.length + 1;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

interface Sent {
  partition: number;
  offset: number;
  sentAt: number;
}

/** A fresh database, topic set, producer and consumer group for one generated case. */
async function arena(name: string) {
  const id = isolationId(env, `e005_${name}`);
  const database: IsolatedDatabase = await createMigratedDatabase(env, id);
  const client = kafka(env, `${id}-client`, { retry: { retries: 10, initialRetryTime: 200 } });
  const admin: Admin = client.admin();
  await admin.connect();
  const config = { ...commonConfig(env, { database: id, topicPrefix: `${id}.`, retryDelaysMs }), logLevel: 'error' };
  const { topics } = config;
  await ensureTopics(admin, topics, partitions);
  const producer: Producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const subject = `${topics.events}-value`;
  const serde = new EnvelopeSerde(new RegistrySchemaSource(env.descriptor.schemaRegistry.url), { subject });
  const history = new History(`E-005 ${name}`);
  const nemesis = new Nemesis(env, history);
  const groupId = `${id}.projection`;
  const processes: ServiceProcess[] = [];
  cleanups.push(async () => {
    await nemesis.heal().catch(() => undefined);
    // Graceful stops: the consumer leaves its group, so the group (and the observers') can be deleted now.
    for (const p of processes) await p.stop().catch(() => p.kill()).catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    const groups = (await admin.listGroups().catch(() => ({ groups: [] }))).groups.map((g) => g.groupId).filter((g) => g.includes(id));
    await admin.deleteGroups(groups).catch(() => undefined);
    await deleteTopicsWithPrefix(admin, id).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    const url = `${env.descriptor.schemaRegistry.url}/subjects/${encodeURIComponent(subject)}`;
    await fetch(url, { method: 'DELETE' }).then((r) => r.arrayBuffer()).catch(() => undefined);
    await fetch(`${url}?permanent=true`, { method: 'DELETE' }).then((r) => r.arrayBuffer()).catch(() => undefined);
    await database.drop();
  });

  const consumer = async () => {
    const p = await startServiceProcess('consumer', { ...config, groupId });
    processes.push(p);
    return p;
  };
  const replayWorker = async () => {
    const p = await startServiceProcess('replay', config);
    processes.push(p);
    return p;
  };
  /** One record, on an explicit partition, acks=all; where it landed and when it was sent. */
  const send = async (partition: number, key: string, value: Buffer, headers: KafkaHeaders): Promise<Sent> => {
    const sentAt = Date.now();
    const [metadata] = await producer.send({ topic: topics.events, acks: -1, messages: [{ partition, key, value, headers }] });
    return { partition, offset: Number(metadata!.baseOffset), sentAt };
  };
  const sendEvent = async (partition: number, e: EventEnvelope) => send(partition, e.aggregateId, await serde.encode(e), contractHeaders(e));
  const recordCount = async (topic: string) => (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  return { id, database, config, topics, groupId, serde, history, nemesis, consumer, replayWorker, send, sendEvent, recordCount };
}

function contractHeaders(e: EventEnvelope): KafkaHeaders {
  return { [eventHeaders.eventId]: e.eventId, [eventHeaders.eventType]: e.eventType, [eventHeaders.traceId]: e.traceId, [eventHeaders.aggregateId]: e.aggregateId };
}

/** Account i always lives on partition i mod 3: its good events keep their order. */
const partitionOf = (accountIndex: number) => accountIndex % partitions;

/** Opens the accounts (fault-free) and waits until the projection has them all. */
async function openAccounts(a: Awaited<ReturnType<typeof arena>>, openings: EventEnvelope[]): Promise<void> {
  for (const [i, e] of openings.entries()) await a.sendEvent(partitionOf(i), e);
  await waitApplied(a.database, openings.map((e) => e.eventId), 'the account openings');
}

async function waitApplied(database: IsolatedDatabase, eventIds: string[], what: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(`${what} applied (${eventIds.length} events)`, async () => {
    const applied = await applications(database.pool);
    return eventIds.every((eventId) => applied.has(eventId));
  }, { timeoutMs, intervalMs: 100 });
}

/** A counter of a service's /metrics per value of one label (e.g. retries_total by level). */
async function metricByLabel(url: string, name: string, label: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const value = new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] ?? '';
    out[value] = (out[value] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

async function failpointFired(url: string, name: string): Promise<number> {
  const stats = (await (await fetch(`${url}/failpoints`)).json()) as Record<string, { fired: number }>;
  return stats[name]?.fired ?? 0;
}

/** When each event was applied (DB clock, epoch ms; same host as the producer's clock). */
async function appliedAt(database: IsolatedDatabase, eventIds: string[]): Promise<Map<string, number>> {
  const [rows] = await database.pool.query<RowDataPacket[]>('SELECT event_id, UNIX_TIMESTAMP(applied_at) * 1000 AS t FROM applied_event_log WHERE event_id IN (?)', [eventIds]);
  return new Map(rows.map((r) => [r.event_id as string, Number(r.t)]));
}

const ms = (n: number) => `${Math.round(n)} ms`;

/** Pause between the records of a paced stream (both phases of the poison arm). */
const paceMs = 10;

/** Poison as the consumer classifies it (the DLQ error class), and one more: a ~1 MiB record. */
const poisonKinds = ['bad-magic-byte', 'truncated', 'unknown-schema-id', 'unknown-account', 'invalid-amount', 'oversized'] as const;
type PoisonKind = (typeof poisonKinds)[number];
/**
 * The oversized kind's value: just below the broker's default max message (1,048,588 bytes per record
 * batch), so the events topic takes it but the same value plus the DLQ's failure headers is too large.
 */
const oversizedValueBytes = 1_048_400;
/** The DLQ error class of a poison kind: the oversized record is JSON bytes, so `bad-magic-byte`. */
const errorClassOf = (kind: PoisonKind) => (kind === 'oversized' ? 'bad-magic-byte' : kind);

interface Poison {
  kind: PoisonKind;
  eventId: string;
  key: string;
  value: Buffer;
  headers: KafkaHeaders;
}

/**
 * One poison record next to account `acct` (same key, same partition as its good events). Undecodable
 * ones carry an event-id header anyway, so the DLQ record can be matched to what was sent.
 */
async function poisonRecord(serde: EnvelopeSerde, kind: PoisonKind, acct: string): Promise<Poison> {
  const eventId = randomUUID();
  const raw = (value: Buffer): Poison => ({ kind, eventId, key: acct, value, headers: { [eventHeaders.eventId]: eventId, [eventHeaders.eventType]: 'FundsDeposited' } });
  switch (kind) {
    case 'bad-magic-byte': // JSON where Avro was expected: produced without the registry serializer
      return raw(Buffer.from(JSON.stringify({ eventId, accountId: acct, amount: 5 })));
    case 'oversized': {
      // JSON again, padded to ~1 MiB: the DLQ rejects the full dead letter, the consumer writes a
      // truncated fallback naming the original offset (issue 7: this used to stop the consumer for good).
      const value = Buffer.alloc(oversizedValueBytes, ' ');
      value.write(JSON.stringify({ eventId, accountId: acct, amount: 5, padding: true }));
      return raw(value);
    }
    case 'truncated': // magic byte, then less than a schema id
      return raw(Buffer.from([0, 0, 1]));
    case 'unknown-schema-id': // the wire format, with a schema id the registry never issued
      return raw(frame(900_000_000 + Math.floor(Math.random() * 1000), Buffer.from([2, 4, 6])));
    case 'unknown-account': {
      const ghost = `ghost-${eventId.slice(0, 8)}`;
      const e = newEnvelope({ type: 'FundsDeposited', accountId: ghost, amount: 10 }, { id: ghost, version: 2 });
      return { kind, eventId: e.eventId, key: acct, value: await serde.encode(e), headers: contractHeaders(e) };
    }
    case 'invalid-amount': {
      const e = newEnvelope({ type: 'FundsDeposited', accountId: acct, amount: 0 }, { id: acct, version: 1_000_000 });
      return { kind, eventId: e.eventId, key: acct, value: await serde.encode(e), headers: contractHeaders(e) };
    }
  }
}

/** What is missing or wrong on a dead letter: error class and message, origin, attempts, first failure, bytes. */
function deadLetterProblems(
  record: ObservedRecord,
  sent: { key: string; value: Buffer; sent: Sent },
  expected: { topic: string; groupId: string; attempts: number; errorClass: string; before: number; truncated?: boolean },
): string[] {
  const h = record.headers;
  const problems: string[] = [];
  const want = (name: string, value: string) => {
    if (h[name] !== value) problems.push(`${name} = ${h[name]}, expected ${value}`);
  };
  want(failureHeaders.errorClass, expected.errorClass);
  want(failureHeaders.originalTopic, expected.topic);
  want(failureHeaders.originalPartition, String(sent.sent.partition));
  want(failureHeaders.originalOffset, String(sent.sent.offset));
  want(failureHeaders.attempts, String(expected.attempts));
  want(failureHeaders.consumerGroup, expected.groupId);
  if (!h[failureHeaders.errorMessage]) problems.push('no error message');
  const first = Number(h[failureHeaders.firstFailureAt]);
  if (!(first >= sent.sent.sentAt && first <= expected.before)) problems.push(`first failure at ${h[failureHeaders.firstFailureAt]}, outside [${sent.sent.sentAt}, ${expected.before}]`);
  if (h[failureHeaders.retryNotBefore] !== undefined) problems.push('a retry-not-before header on a dead letter');
  if (record.key !== sent.key) problems.push(`key ${record.key}, expected ${sent.key}`);
  if (expected.truncated) {
    // The DLQ's fallback for a record too large for it: a prefix of the value, the full size, the origin above.
    want(failureHeaders.valueTruncated, 'true');
    want(failureHeaders.originalValueBytes, String(sent.value.length));
    const kept = record.value ?? Buffer.alloc(0);
    if (!(kept.length < sent.value.length && sent.value.subarray(0, kept.length).equals(kept))) problems.push(`fallback value (${kept.length} bytes) is not a proper prefix of the original`);
  } else if (!record.value?.equals(sent.value)) {
    problems.push('value bytes changed');
  }
  return problems;
}

async function postReplay(url: string, body: object): Promise<ReplayReport> {
  const response = await fetch(`${url}/replays`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`POST /replays answered ${response.status}: ${text}`);
  return JSON.parse(text) as ReplayReport;
}

async function auditRows(database: IsolatedDatabase, replayId: string): Promise<RowDataPacket[]> {
  const [rows] = await database.pool.query<RowDataPacket[]>('SELECT operator, reason, event_id, event_type, error_class, dry_run, result, detail FROM replay_audit WHERE replay_id = ? ORDER BY id', [replayId]);
  return rows;
}

describe('E-005 DLQ and controlled replay', () => {
  it('✅ retry topics: transient failures heal through the retry topics and never reach the DLQ', async () => {
    const totals = { cases: 0, events: 0, fired: 0, gapHolds: 0, retries: 0, dlq: 0, lost: 0, doubleApplied: 0, reordered: 0, healedAfterRepeatsMaxMs: 0 };
    const levels: Record<string, number> = {};
    let lastHistory: History | undefined;
    const schedules = fc.record({
      accounts: fc.integer({ min: 2, max: 5 }),
      deposits: fc.integer({ min: 3, max: 6 }),
      /** One record failing this many times in a row (< maxAttempts: a transient failure, by definition). */
      repeated: fc.integer({ min: 1, max: maxAttempts - 1 }),
      /** Then this many consecutive failures … */
      spread: fc.integer({ min: 1, max: maxAttempts - 1 }),
      /** … starting this far (percent) into the stream. */
      atPercent: fc.integer({ min: 0, max: 100 }),
    });
    await assertProperty(
      'lab/e-005',
      fc.asyncProperty(schedules, async (schedule) => {
        const n = totals.cases;
        const a = await arena(`retry_${n}`);
        lastHistory = a.history;
        const consumer = await a.consumer();
        const accounts = Array.from({ length: schedule.accounts }, (_, i) => `acct-${i}`);
        const events = walletEvents(accounts, schedule.deposits);
        const openings = events.slice(0, accounts.length);
        const [single, ...rest] = events.slice(accounts.length);
        const partitionOfEvent = (e: EventEnvelope) => partitionOf(accounts.indexOf(e.aggregateId));
        await openAccounts(a, openings);

        // One record alone, failing `repeated` times in a row: it hops retry-1 … retry-<repeated>.
        await a.nemesis.armFailpoint(consumer.url, 'consumer.apply', `error(count=${schedule.repeated})`);
        const sentSingle = await a.sendEvent(partitionOfEvent(single!), single!);
        await waitApplied(a.database, [single!.eventId], 'the repeatedly failing deposit');
        const healedMs = (await appliedAt(a.database, [single!.eventId])).get(single!.eventId)! - sentSingle.sentAt;
        const firedRepeated = await failpointFired(consumer.url, 'consumer.apply');

        // Then `spread` consecutive failures at a generated position of the flowing stream. Arming again
        // resets the hit count; every record is hit at least once, so skip + count ≤ records makes all fire.
        const skip = Math.floor((schedule.atPercent / 100) * (rest.length - schedule.spread));
        await a.nemesis.armFailpoint(consumer.url, 'consumer.apply', `error(skip=${skip},count=${schedule.spread})`);
        for (const e of rest) await a.sendEvent(partitionOfEvent(e), e);
        await waitApplied(a.database, rest.map((e) => e.eventId), 'the deposits');
        const firedSpread = await failpointFired(consumer.url, 'consumer.apply');
        await a.nemesis.heal();
        await sleep(1000); // quiescence: anything still travelling (a duplicate, a late retry) shows up

        const applied = await applications(a.database.pool);
        const ids = events.map((e) => e.eventId);
        const delivery = checkDelivery(ids.map((id) => ({ id, outcome: 'ok' as const })), [...applied.keys()], 'applied');
        const once = checkEffectsOnce(applied, 'applied once');
        const retries = await scrapeMetric(consumer.url, 'retries_total');
        const gapHolds = await scrapeMetric(consumer.url, 'version_gaps_total');
        const dlq = await a.recordCount(a.topics.dlq);
        const balances = await projectedBalances(a.database.pool);
        const expected = new Map(accounts.map((acct) => [acct, events.filter((e) => e.aggregateId === acct).reduce((sum, e) => sum + ('amount' in e.payload ? e.payload.amount : 0), 0)]));
        // Per-account order as applied: the consumer holds an account's later events while one is retried.
        const versionOf = new Map(events.map((e) => [e.eventId, e.aggregateVersion]));
        const [log] = await a.database.pool.query<RowDataPacket[]>('SELECT event_id, account_id FROM applied_event_log ORDER BY id');
        const order = checkPerKeyOrder(log.map((r) => ({ key: r.account_id as string, version: versionOf.get(r.event_id as string) ?? -1 })));
        for (const [level, value] of Object.entries(await metricByLabel(consumer.url, 'retries_total', 'level'))) levels[level] = (levels[level] ?? 0) + value;

        totals.cases += 1;
        totals.events += events.length;
        totals.fired += firedRepeated + firedSpread;
        totals.retries += retries;
        totals.gapHolds += gapHolds;
        totals.dlq += dlq;
        totals.lost += delivery.counts.lost!;
        totals.doubleApplied += once.counts.duplicated!;
        totals.reordered += order.counts.nonmonotonic! + order.counts.skip!;
        totals.healedAfterRepeatsMaxMs = Math.max(totals.healedAfterRepeatsMaxMs, healedMs);
        report(`retry case ${n}: ${events.length} events; one deposit failing ${schedule.repeated}× in a row healed in ${ms(healedMs)}, then ${schedule.spread} failure(s) from hit ${skip + 1}; retries ${retries} (${gapHolds} version-gap holds), DLQ ${dlq}; ${summarize(delivery)}`);
        // "Sometimes": every scheduled failure fired.
        expect({ repeated: firedRepeated, spread: firedSpread }).toEqual({ repeated: schedule.repeated, spread: schedule.spread });
        expect({ lost: delivery.counts.lost, unexpected: delivery.counts.unexpected, doubleApplied: once.counts.duplicated, dlq }).toEqual({ lost: 0, unexpected: 0, doubleApplied: 0, dlq: 0 });
        expect(await scrapeMetric(consumer.url, 'dlq_total')).toBe(0);
        // Each failure, and each hold of a later event over the gap it left, is one hop to a retry topic.
        expect(retries).toBe(firedRepeated + firedSpread + gapHolds);
        expect(order.counts.nonmonotonic! + order.counts.skip!, 'applied out of per-account order').toBe(0);
        for (const acct of accounts) expect(balances.get(acct)?.balance, acct).toBe(expected.get(acct));
      }),
      2,
    );
    const levelText = Object.entries(levels).sort().map(([l, v]) => `${l} ${v}`).join(', ');
    report(`retry topics: ${totals.cases} schedules, ${totals.events} events, ${totals.fired} injected failures → retries ${totals.retries} (${levelText}; ${totals.gapHolds} of them version-gap holds), DLQ ${totals.dlq}, lost ${totals.lost}, double-applied ${totals.doubleApplied}; applied out of per-account order ${totals.reordered}; slowest heal after repeated failures ${ms(totals.healedAfterRepeatsMaxMs)}`);
    recordArm({
      experiment: 'E-005', title, arm: '✅ retry topics',
      expected: 'every event applied once in per-account order, DLQ 0, retries = injected failures (> 0) + version-gap holds',
      observed: `lost ${totals.lost}, double-applied ${totals.doubleApplied}, out of order ${totals.reordered}, DLQ ${totals.dlq}, retries ${totals.retries} for ${totals.fired} failures + ${totals.gapHolds} holds`,
      holds: totals.lost === 0 && totals.doubleApplied === 0 && totals.reordered === 0 && totals.dlq === 0 && totals.fired > 0 && totals.retries === totals.fired + totals.gapHolds,
      numbers: { ...totals, ...Object.fromEntries(Object.entries(levels).map(([l, v]) => [`retries ${l}`, v])) },
      ...(lastHistory ? { history: lastHistory } : {}),
    });
    expect(totals.fired).toBeGreaterThan(0);
    expect(levels['retry-1']).toBeGreaterThan(0);
  });

  it('✅ poison isolation: poison records reach the DLQ with full error headers and do not block the good events', async () => {
    const totals = { cases: 0, good: 0, poison: 0, dlq: 0, lost: 0, doubleApplied: 0, retries: 0, badDeadLetters: 0 };
    const latency = { baseline: [] as number[], poison: [] as number[] };
    const byClass: Record<string, number> = {};
    let lastHistory: History | undefined;
    const cases = fc.record({
      accounts: fc.integer({ min: 3, max: 6 }),
      /** Good deposits per phase. */
      good: fc.integer({ min: 30, max: 45 }),
      /** Extra poison records beyond one of each kind: which kind, next to which account, after which good event. */
      poison: fc.array(fc.record({ kind: fc.constantFrom(...poisonKinds), account: fc.nat(), after: fc.nat() }), { minLength: 5, maxLength: 30 }),
      at: fc.array(fc.nat(), { minLength: poisonKinds.length, maxLength: poisonKinds.length }),
    });
    await assertProperty(
      'lab/e-005',
      fc.asyncProperty(cases, async (c) => {
        const n = totals.cases;
        const a = await arena(`poison_${n}`);
        lastHistory = a.history;
        const consumer = await a.consumer();
        const accounts = Array.from({ length: c.accounts }, (_, i) => `acct-${i}`);
        const versions = new Map(accounts.map((acct) => [acct, 1]));
        const openings = accounts.map((acct) => newEnvelope({ type: 'AccountOpened', accountId: acct, owner: `owner of ${acct}`, currency: 'KRW' }, { id: acct, version: 1 }));
        await openAccounts(a, openings);
        const deposit = (i: number) => {
          const acct = accounts[i % accounts.length]!;
          versions.set(acct, versions.get(acct)! + 1);
          return { accountIndex: i % accounts.length, envelope: newEnvelope({ type: 'FundsDeposited', accountId: acct, amount: 100 + i }, { id: acct, version: versions.get(acct)! }) };
        };

        // Baseline: good deposits alone, paced.
        const baseline: Array<{ e: EventEnvelope; sent: Sent }> = [];
        for (let i = 0; i < c.good; i += 1) {
          const { accountIndex, envelope } = deposit(i);
          baseline.push({ e: envelope, sent: await a.sendEvent(partitionOf(accountIndex), envelope) });
          await sleep(paceMs);
        }
        await waitApplied(a.database, baseline.map((g) => g.e.eventId), 'the baseline deposits');

        // The same stream with poison interleaved on the same partitions (every kind at least once).
        const plan = [...poisonKinds.map((kind, k) => ({ kind, account: k, after: c.at[k]! })), ...c.poison].map((p) => ({ ...p, account: p.account % accounts.length, after: p.after % c.good }));
        const good: Array<{ e: EventEnvelope; sent: Sent }> = [];
        const poison: Array<Poison & { sent: Sent }> = [];
        const fault = a.history.faultStart('poison', a.topics.events, { records: plan.length });
        for (let i = 0; i < c.good; i += 1) {
          const { accountIndex, envelope } = deposit(i);
          good.push({ e: envelope, sent: await a.sendEvent(partitionOf(accountIndex), envelope) });
          await sleep(paceMs);
          for (const p of plan.filter((q) => q.after === i)) {
            const record = await poisonRecord(a.serde, p.kind, accounts[p.account]!);
            poison.push({ ...record, sent: await a.send(partitionOf(p.account), record.key, record.value, record.headers) });
            await sleep(paceMs);
          }
        }
        await waitApplied(a.database, good.map((g) => g.e.eventId), 'the deposits sent among poison');
        a.history.faultEnd(fault);
        await waitFor('every poison record in the DLQ', async () => (await a.recordCount(a.topics.dlq)) >= poison.length, { timeoutMs: 30_000 });
        await sleep(500);

        const dead = await readTopic(env, a.topics.dlq, { expected: poison.length, quietMs: 300, timeoutMs: 30_000 });
        const checkedAt = Date.now();
        const deadById = new Map(dead.map((r) => [r.eventId, r]));
        const mismatches: unknown[] = [];
        for (const p of poison) {
          const record = deadById.get(p.eventId);
          const problems = record ? deadLetterProblems(record, p, { topic: a.topics.events, groupId: a.groupId, attempts: 1, errorClass: errorClassOf(p.kind), before: checkedAt, truncated: p.kind === 'oversized' }) : ['not in the DLQ'];
          if (problems.length) mismatches.push({ kind: p.kind, eventId: p.eventId, problems });
          byClass[p.kind] = (byClass[p.kind] ?? 0) + 1;
        }
        const all = [...baseline, ...good];
        const applied = await applications(a.database.pool);
        const delivery = checkDelivery([...openings, ...all.map((g) => g.e)].map((e) => ({ id: e.eventId, outcome: 'ok' as const })), [...applied.keys()], 'applied');
        const once = checkEffectsOnce(applied, 'applied once');
        const times = await appliedAt(a.database, all.map((g) => g.e.eventId));
        const lat = (list: typeof all) => list.map((g) => times.get(g.e.eventId)! - g.sent.sentAt);
        const base = lat(baseline);
        const withPoison = lat(good);
        latency.baseline.push(...base);
        latency.poison.push(...withPoison);
        const retries = await scrapeMetric(consumer.url, 'retries_total');
        const dlqTotal = await scrapeMetric(consumer.url, 'dlq_total');

        totals.cases += 1;
        totals.good += all.length;
        totals.poison += poison.length;
        totals.dlq += dead.length;
        totals.lost += delivery.counts.lost!;
        totals.doubleApplied += once.counts.duplicated!;
        totals.retries += retries;
        totals.badDeadLetters += mismatches.length;
        report(`poison case ${n}: ${good.length} good deposits among ${poison.length} poison records on ${Math.min(partitions, accounts.length)} partitions; DLQ ${dead.length}, retries ${retries}; good-event latency p50/p99 baseline ${ms(percentile(base, 50))}/${ms(percentile(base, 99))}, with poison ${ms(percentile(withPoison, 50))}/${ms(percentile(withPoison, 99))}`);
        expect(mismatches).toEqual([]);
        expect(dead).toHaveLength(poison.length);
        expect(dlqTotal).toBe(poison.length);
        expect(retries).toBe(0); // poison never retried: it cannot succeed, so it must not occupy a retry slot
        expect({ lost: delivery.counts.lost, unexpected: delivery.counts.unexpected, doubleApplied: once.counts.duplicated }).toEqual({ lost: 0, unexpected: 0, doubleApplied: 0 });
      }),
      2,
    );
    const numbers = {
      ...totals,
      'latency p50 baseline ms': Math.round(percentile(latency.baseline, 50)),
      'latency p99 baseline ms': Math.round(percentile(latency.baseline, 99)),
      'latency p50 with poison ms': Math.round(percentile(latency.poison, 50)),
      'latency p99 with poison ms': Math.round(percentile(latency.poison, 99)),
      ...Object.fromEntries(Object.entries(byClass).map(([k, v]) => [`DLQ ${k}`, v])),
    };
    report(`poison isolation: ${totals.cases} cases, ${totals.poison} poison records (${Object.entries(byClass).sort().map(([k, v]) => `${k} ${v}`).join(', ')}) → DLQ ${totals.dlq} with full headers (${totals.badDeadLetters} incomplete), retries ${totals.retries}; ${totals.good} good events, lost ${totals.lost}, double-applied ${totals.doubleApplied}; good-event latency p50/p99 baseline ${numbers['latency p50 baseline ms']}/${numbers['latency p99 baseline ms']} ms, while poison flows ${numbers['latency p50 with poison ms']}/${numbers['latency p99 with poison ms']} ms`);
    recordArm({
      experiment: 'E-005', title, arm: '✅ poison isolation',
      expected: 'every poison record in the DLQ with full headers at attempt 1, no retries, every good event applied once',
      observed: `DLQ ${totals.dlq} of ${totals.poison} poison (${totals.badDeadLetters} incomplete), retries ${totals.retries}, lost ${totals.lost}, double-applied ${totals.doubleApplied}; latency p99 ${numbers['latency p99 baseline ms']} → ${numbers['latency p99 with poison ms']} ms`,
      holds: totals.dlq === totals.poison && totals.badDeadLetters === 0 && totals.retries === 0 && totals.lost === 0 && totals.doubleApplied === 0 && totals.poison > 0,
      numbers, ...(lastHistory ? { history: lastHistory } : {}),
    });
    expect(totals.poison).toBeGreaterThan(0);
  });

  it('✅ controlled replay: dry run, filter, rate limit and audit; replaying twice applies once', async () => {
    const totals = { cases: 0, victims: 0, poison: 0, dlq: 0, retries: 0, dryRunPublished: 0, replays: 0, replayed: 0, auditRows: 0, lost: 0, doubleApplied: 0, duplicatesSkipped: 0 };
    const rates: Array<{ limit: number; worker: number; observed: number; records: number }> = [];
    let lastHistory: History | undefined;
    const cases = fc.record({
      deposits: fc.integer({ min: 4, max: 10 }),
      withdrawals: fc.integer({ min: 2, max: 6 }),
      poison: fc.integer({ min: 1, max: 3 }),
      limit: fc.constantFrom(5, 10, 20),
    });
    await assertProperty(
      'lab/e-005',
      fc.asyncProperty(cases, async (c) => {
        const n = totals.cases;
        const a = await arena(`replay_${n}`);
        lastHistory = a.history;
        const [consumer, worker] = await Promise.all([a.consumer(), a.replayWorker()]);
        const accounts = ['acct-0', 'acct-1'];
        const openings = accounts.map((acct) => newEnvelope({ type: 'AccountOpened', accountId: acct, owner: `owner of ${acct}`, currency: 'KRW' }, { id: acct, version: 1 }));
        await openAccounts(a, openings);
        const versions = new Map(accounts.map((acct) => [acct, 1]));
        const next = (acct: string) => versions.set(acct, versions.get(acct)! + 1).get(acct)!;

        // Poison first (business-invalid: amount 0): straight to the DLQ, attempt 1.
        const poison: EventEnvelope[] = [];
        for (let i = 0; i < c.poison; i += 1) {
          const acct = accounts[i % 2]!;
          const e = newEnvelope({ type: 'FundsDeposited', accountId: acct, amount: 0 }, { id: acct, version: 1000 + i });
          poison.push(e);
          await a.sendEvent(partitionOf(i % 2), e);
        }
        await waitFor('the poison in the DLQ', async () => (await a.recordCount(a.topics.dlq)) === c.poison, { timeoutMs: 30_000 });

        // A broken dependency (always failing): every victim spends its maxAttempts and lands in the DLQ.
        await a.nemesis.armFailpoint(consumer.url, 'consumer.apply', 'error()');
        const victims: Array<{ e: EventEnvelope; sent: Sent }> = [];
        for (let i = 0; i < c.deposits + c.withdrawals; i += 1) {
          const acct = accounts[i % 2]!;
          const payload = i < c.deposits ? ({ type: 'FundsDeposited', accountId: acct, amount: 100 + i } as const) : ({ type: 'FundsWithdrawn', accountId: acct, amount: 10 + i } as const);
          const e = newEnvelope(payload, { id: acct, version: next(acct) });
          victims.push({ e, sent: await a.sendEvent(partitionOf(i % 2), e) });
        }
        const total = c.poison + victims.length;
        await waitFor('every victim in the DLQ after maxAttempts', async () => (await a.recordCount(a.topics.dlq)) >= total, { timeoutMs: 60_000 });
        const dead = await readTopic(env, a.topics.dlq, { expected: total, quietMs: 300, timeoutMs: 30_000 });
        const deadById = new Map(dead.map((r) => [r.eventId, r]));
        const checkedAt = Date.now();
        const mismatches: unknown[] = [];
        for (const v of victims) {
          const record = deadById.get(v.e.eventId);
          const problems = record ? deadLetterProblems(record, { key: v.e.aggregateId, value: await a.serde.encode(v.e), sent: v.sent }, { topic: a.topics.events, groupId: a.groupId, attempts: maxAttempts, errorClass: 'FailpointError', before: checkedAt }) : ['not in the DLQ'];
          if (problems.length) mismatches.push({ eventId: v.e.eventId, problems });
        }
        for (const p of poison) if (deadById.get(p.eventId)?.headers[failureHeaders.attempts] !== '1' || deadById.get(p.eventId)?.headers[failureHeaders.errorClass] !== 'invalid-amount') mismatches.push({ poison: p.eventId, headers: deadById.get(p.eventId)?.headers });
        expect(mismatches).toEqual([]);
        expect(dead).toHaveLength(total);
        const retries = await scrapeMetric(consumer.url, 'retries_total');
        expect(retries).toBe(victims.length * (maxAttempts - 1));
        const victimIds = victims.map((v) => v.e.eventId);
        const appliedBefore = await applications(a.database.pool);
        expect(victimIds.filter((id) => appliedBefore.has(id))).toEqual([]);
        const eventsBefore = await a.recordCount(a.topics.events);

        // 1. Dry run, before the fix: every record audited as 'dry-run', nothing published.
        const dry = await postReplay(worker.url, { operator: 'e005-operator', reason: 'preview the dead letters', ratePerSecond: c.limit, dryRun: true });
        expect(dry).toMatchObject({ mode: 'dry-run', scanned: total, dryRun: total, replayed: 0, filtered: 0, failed: 0 });
        const dryRows = await auditRows(a.database, dry.replayId);
        expect(dryRows.map((r) => ({ result: r.result, dryRun: Number(r.dry_run), operator: r.operator, reason: r.reason }))).toEqual(dryRows.map(() => ({ result: 'dry-run', dryRun: 1, operator: 'e005-operator', reason: 'preview the dead letters' })));
        expect(new Set(dryRows.map((r) => r.event_id))).toEqual(new Set([...victimIds, ...poison.map((p) => p.eventId)]));
        const dryRunPublished = (await a.recordCount(a.topics.events)) - eventsBefore;
        expect(dryRunPublished).toBe(0);

        // The cause is fixed.
        await a.nemesis.heal();

        // 2. Filtered replay: only the deposits that failed transiently (not the withdrawals, not the poison).
        const deposits = victims.slice(0, c.deposits).map((v) => v.e.eventId);
        const withdrawals = victims.slice(c.deposits).map((v) => v.e.eventId);
        const dupBefore = await scrapeMetric(consumer.url, 'duplicates_skipped_total');
        const first = await postReplay(worker.url, { operator: 'e005-operator', reason: 'projection DB fixed: deposits first', ratePerSecond: c.limit, filter: { eventTypes: ['FundsDeposited'], errorClasses: ['FailpointError'] } });
        expect(first).toMatchObject({ mode: 'replay', scanned: total, replayed: c.deposits, filtered: c.withdrawals + c.poison, failed: 0 });
        const firstRows = await auditRows(a.database, first.replayId);
        expect(Object.fromEntries(firstRows.map((r) => [r.event_id, r.result]))).toEqual(Object.fromEntries([...deposits.map((id) => [id, 'replayed']), ...withdrawals.map((id) => [id, 'filtered']), ...poison.map((p) => [p.eventId, 'filtered'])]));
        expect(new Set(firstRows.map((r) => `${r.operator}|${r.reason}|${r.dry_run}`))).toEqual(new Set(['e005-operator|projection DB fixed: deposits first|0']));
        await waitApplied(a.database, deposits, 'the replayed deposits');
        await sleep(500);
        const appliedAfterFirst = await applications(a.database.pool);
        expect(withdrawals.filter((id) => appliedAfterFirst.has(id))).toEqual([]); // filtered out: still parked

        // 3. The same dead letters again, now every transient one: the deposits a second time.
        const second = await postReplay(worker.url, { operator: 'e005-operator', reason: 'replay all transient failures', ratePerSecond: c.limit, filter: { errorClasses: ['FailpointError'] } });
        expect(second).toMatchObject({ mode: 'replay', scanned: total, replayed: victims.length, filtered: c.poison, failed: 0 });
        await waitApplied(a.database, withdrawals, 'the replayed withdrawals');
        await waitFor('the deposits replayed twice to be skipped as duplicates', async () => (await scrapeMetric(consumer.url, 'duplicates_skipped_total')) - dupBefore >= c.deposits, { timeoutMs: 30_000 });

        // 4. Exactly the same replay once more: every victim a second (deposits: third) time.
        const third = await postReplay(worker.url, { operator: 'e005-operator', reason: 'replay all transient failures, again', ratePerSecond: c.limit, filter: { errorClasses: ['FailpointError'] } });
        expect(third).toMatchObject({ mode: 'replay', scanned: total, replayed: victims.length, filtered: c.poison, failed: 0 });
        await waitFor('the third replay to be skipped as duplicates', async () => (await scrapeMetric(consumer.url, 'duplicates_skipped_total')) - dupBefore >= c.deposits + victims.length, { timeoutMs: 30_000 });
        await sleep(1000); // quiescence: a wrongly applied copy would show up now

        const replayedRecords = (await readTopic(env, a.topics.events, { expected: eventsBefore + c.deposits + 2 * victims.length, quietMs: 300, timeoutMs: 30_000 })).filter((r) => r.headers[eventHeaders.replayId] !== undefined);
        const spacingMs = 1000 / c.limit;
        for (const [replay, ids] of [[first, deposits], [second, victimIds], [third, victimIds]] as const) {
          const mine = replayedRecords.filter((r) => r.headers[eventHeaders.replayId] === replay.replayId);
          expect(mine.map((r) => r.eventId).sort()).toEqual([...ids].sort()); // exactly the selected records, once each
          const stamps = mine.map((r) => r.timestamp);
          const span = Math.max(...stamps) - Math.min(...stamps);
          // The limit holds as the worker measures it (by construction: starts spaced by the monotonic clock)
          // and the job lasted at least the spacing between its publishes. The records' own timestamps
          // (set by the client when it encodes the request, so jittered by a first send's metadata fetch or
          // a GC pause) agree within a quarter: a missing limiter would publish them all within a few ms.
          expect(replay.ratePerSecond).toBeLessThanOrEqual(c.limit);
          expect(replay.durationMs).toBeGreaterThanOrEqual((ids.length - 1) * spacingMs);
          expect(span).toBeGreaterThanOrEqual(0.75 * (ids.length - 1) * spacingMs);
          rates.push({ limit: c.limit, worker: replay.ratePerSecond, observed: ((ids.length - 1) * 1000) / Math.max(1, span), records: ids.length });
        }
        const applied = await applications(a.database.pool);
        const ids = [...openings, ...victims.map((v) => v.e)].map((e) => e.eventId);
        const delivery = checkDelivery(ids.map((id) => ({ id, outcome: 'ok' as const })), [...applied.keys()], 'applied');
        const once = checkEffectsOnce(applied, 'applied once');
        const duplicatesSkipped = (await scrapeMetric(consumer.url, 'duplicates_skipped_total')) - dupBefore;
        const balances = await projectedBalances(a.database.pool);
        const auditCount = (await a.database.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM replay_audit'))[0][0]!.n as number;

        totals.cases += 1;
        totals.victims += victims.length;
        totals.poison += poison.length;
        totals.dlq += dead.length;
        totals.retries += retries;
        totals.dryRunPublished += dryRunPublished;
        totals.replays += 4;
        totals.replayed += first.replayed + second.replayed + third.replayed;
        totals.auditRows += Number(auditCount);
        totals.lost += delivery.counts.lost!;
        totals.doubleApplied += once.counts.duplicated!;
        totals.duplicatesSkipped += duplicatesSkipped;
        report(`replay case ${n}: ${victims.length} victims (${c.deposits} deposits, ${c.withdrawals} withdrawals) + ${poison.length} poison in the DLQ after ${retries} retries; dry run ${dry.dryRun} audited, 0 published; filtered replay ${first.replayed}/${first.scanned} at ${first.ratePerSecond.toFixed(1)}/s (limit ${c.limit}/s), full replay ${second.replayed}/${second.scanned} at ${second.ratePerSecond.toFixed(1)}/s, again ${third.replayed}/${third.scanned} at ${third.ratePerSecond.toFixed(1)}/s; audit rows ${auditCount}; duplicates skipped ${duplicatesSkipped}; ${summarize(once)}`);
        expect(Number(auditCount)).toBe(4 * total); // one row per DLQ record per replay
        expect({ lost: delivery.counts.lost, unexpected: delivery.counts.unexpected, doubleApplied: once.counts.duplicated }).toEqual({ lost: 0, unexpected: 0, doubleApplied: 0 });
        expect(duplicatesSkipped).toBe(c.deposits + victims.length); // every repeated replay applied nothing
        for (const acct of accounts) {
          const expected = victims.filter((v) => v.e.aggregateId === acct).reduce((sum, v) => sum + (v.e.payload.type === 'FundsWithdrawn' ? -v.e.payload.amount : 'amount' in v.e.payload ? v.e.payload.amount : 0), 0);
          expect(balances.get(acct)?.balance, acct).toBe(expected);
        }
      }),
      2,
    );
    const rateText = rates.map((r) => `${r.records} @ ${r.limit}/s: ${r.worker.toFixed(1)} (timestamps ${r.observed.toFixed(1)})`).join('; ');
    report(`controlled replay: ${totals.cases} cases, ${totals.victims} victims + ${totals.poison} poison → DLQ ${totals.dlq} after ${totals.retries} retries; ${totals.replays} replays (dry run published ${totals.dryRunPublished}), ${totals.replayed} records replayed, audit rows ${totals.auditRows}; lost ${totals.lost}, double-applied ${totals.doubleApplied}, duplicates skipped ${totals.duplicatesSkipped}; rates ${rateText}`);
    const worstRatio = Math.max(...rates.map((r) => r.worker / r.limit));
    recordArm({
      experiment: 'E-005', title, arm: '✅ controlled replay',
      expected: 'dry run publishes 0; filtered replay publishes only matches at ≤ limit, audited; replaying twice applies once',
      observed: `dry run published ${totals.dryRunPublished}, ${totals.replayed} replayed, audit rows ${totals.auditRows}, double-applied ${totals.doubleApplied}, duplicates skipped ${totals.duplicatesSkipped}, worst rate/limit ${worstRatio.toFixed(2)}`,
      holds: totals.dryRunPublished === 0 && totals.lost === 0 && totals.doubleApplied === 0 && totals.duplicatesSkipped > 0 && worstRatio <= 1,
      numbers: { ...totals, 'worst rate / limit': Number(worstRatio.toFixed(3)), rates: rateText },
      ...(lastHistory ? { history: lastHistory } : {}),
    });
    expect(totals.duplicatesSkipped).toBeGreaterThan(0);
  });
});
