/**
 * replay-worker: controlled replay of the DLQ (the mechanics E-005 builds on).
 *
 * Question  Does a replay read the DLQ as a bounded job, select records by event type / error class,
 *           re-publish exactly those with their envelope bytes unchanged (same event id) and a replay-id
 *           instead of the failure headers, respect its rate limit, audit every record it looked at,
 *           and publish nothing on a dry run?
 * Setup     A fresh topic set and migrated database; crafted dead letters produced straight to the DLQ:
 *           Avro envelopes (EnvelopeSerde, the registry) with failure headers of several error classes,
 *           plus one undecodable record. The replay-worker runs in process and is driven over HTTP.
 * Fault     None: the dead letters stand for the poison and exhausted records the consumer parks there.
 * Expected  Dry run: one 'dry-run' audit row per record, nothing on topics.events. Filtered replay: the
 *           matching records on topics.events byte for byte, 'replayed'/'filtered' audit rows. 20 records
 *           at 10/s take ≥ 1.9 s between the first and the last publish, measured rate ≤ 10/s.
 *           No operator → 400. ("Replaying twice applies once" is the consumer's dedupe, tested end to end
 *           in E-005.)
 * Numbers   `[replay-worker] …`: replay durations and measured rates.
 */
import type { RowDataPacket } from 'mysql2';
import type { Producer } from 'kafkajs';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { EnvelopeSerde, eventHeaders, failpoints, failureHeaders, newEnvelope, RegistrySchemaSource, startService, type KafkaHeaders, type ReplayReport, type RunningService, type WalletEventPayload } from '../../src/contract.ts';
import { kafka } from '../infra/clients.ts';
import { fileArena, labEnvironment } from '../infra/vitest.ts';
import { readTopic, recordCount } from '../observe/topic.ts';

const env = labEnvironment();
const report = (line: string) => console.log(`[replay-worker] ${line}`);

const arena = fileArena(env, 'replay');
let producer: Producer;
let worker: RunningService;
let serde: EnvelopeSerde;

interface DeadLetter {
  eventId: string;
  eventType: string;
  errorClass: string;
  key: string;
  value: Buffer;
}

beforeAll(async () => {
  serde = new EnvelopeSerde(new RegistrySchemaSource(arena.config.schemaRegistryUrl), { subject: `${arena.config.topics.events}-value` });
  producer = kafka(env, `${arena.id}-dlq-writer`).producer({ idempotent: true });
  await producer.connect();
  arena.defer(() => producer.disconnect());
  worker = arena.own(await startService('replay', arena.config));
});

/** Writes dead letters as the consumer would: original event headers plus failure headers. */
async function produceDeadLetters(specs: Array<{ payload: WalletEventPayload; errorClass: string }>): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  for (const [index, spec] of specs.entries()) {
    const envelope = newEnvelope(spec.payload, { id: spec.payload.accountId, version: 2 + index });
    letters.push({ eventId: envelope.eventId, eventType: envelope.eventType, errorClass: spec.errorClass, key: envelope.aggregateId, value: await serde.encode(envelope) });
  }
  await producer.send({
    topic: arena.config.topics.dlq,
    acks: -1,
    messages: letters.map((letter) => ({ key: letter.key, value: letter.value, headers: { ...headersOf(letter), ...failureHeadersFor(letter.errorClass) } })),
  });
  return letters;
}

function headersOf(letter: DeadLetter): KafkaHeaders {
  return { [eventHeaders.eventId]: letter.eventId, [eventHeaders.eventType]: letter.eventType, [eventHeaders.traceId]: 'trace-1', [eventHeaders.aggregateId]: letter.key };
}

function failureHeadersFor(errorClass: string): KafkaHeaders {
  return {
    [failureHeaders.errorClass]: errorClass,
    [failureHeaders.errorMessage]: `crafted ${errorClass}`,
    [failureHeaders.originalTopic]: arena.config.topics.events,
    [failureHeaders.originalPartition]: '0',
    [failureHeaders.originalOffset]: '0',
    [failureHeaders.attempts]: '1',
    [failureHeaders.firstFailureAt]: String(Date.now()),
    [failureHeaders.consumerGroup]: `${arena.id}.consumer`,
  };
}

async function postReplay(body: object): Promise<{ status: number; body: ReplayReport & { error?: string; reason?: string } }> {
  const response = await request(`${worker.url}/replays`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.statusCode, body: (await response.body.json()) as ReplayReport & { error?: string; reason?: string } };
}

async function auditRows(replayId: string) {
  const [rows] = await arena.database.pool.execute<RowDataPacket[]>(
    'SELECT operator, reason, dlq_topic, dlq_partition, dlq_offset, event_id, event_type, error_class, target_topic, dry_run, result, detail FROM replay_audit WHERE replay_id = ? ORDER BY id',
    [replayId],
  );
  return rows;
}

const eventsOnTopic = () => recordCount(arena.admin, arena.config.topics.events);
/** Every record on the events topic, read by an independent observer. */
const readEvents = (expected: number) => readTopic(env, arena.config.topics.events, { expected, quietMs: 0, timeoutMs: 30_000 });

let letters: DeadLetter[] = [];
let undecodable: { eventId: string };

describe('replay-worker', () => {
  it('a dry run audits every dead letter and publishes nothing', async () => {
    letters = await produceDeadLetters([
      ...Array.from({ length: 4 }, (_, i) => ({ payload: { type: 'FundsDeposited', accountId: `acct-d${i}`, amount: 100 + i } as WalletEventPayload, errorClass: 'unknown-account' })),
      ...Array.from({ length: 2 }, (_, i) => ({ payload: { type: 'FundsWithdrawn', accountId: `acct-w${i}`, amount: 50 } as WalletEventPayload, errorClass: 'unknown-account' })),
      ...Array.from({ length: 2 }, (_, i) => ({ payload: { type: 'FundsDeposited', accountId: `acct-i${i}`, amount: 1 } as WalletEventPayload, errorClass: 'invalid-amount' })),
    ]);
    // An undecodable record (not the wire format) that a naive replay would send straight back to the DLQ.
    undecodable = { eventId: '00000000-0000-4000-8000-000000000001' };
    await producer.send({
      topic: arena.config.topics.dlq,
      acks: -1,
      messages: [{ key: 'acct-bad', value: Buffer.from('not avro at all'), headers: { [eventHeaders.eventId]: undecodable.eventId, [eventHeaders.eventType]: 'FundsDeposited', ...failureHeadersFor('bad-magic-byte') } }],
    });

    const dry = await postReplay({ operator: 'alice', reason: 'preview before the fix', ratePerSecond: 1000, dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ scanned: 9, dryRun: 9, replayed: 0, filtered: 0, failed: 0, mode: 'dry-run', ratePerSecond: 0 });
    const rows = await auditRows(dry.body.replayId);
    expect(rows).toHaveLength(9);
    for (const row of rows) {
      expect(row).toMatchObject({ operator: 'alice', reason: 'preview before the fix', dlq_topic: arena.config.topics.dlq, target_topic: arena.config.topics.events, dry_run: 1, result: 'dry-run' });
    }
    expect(new Set(rows.map((row) => row.event_id))).toEqual(new Set([...letters.map((l) => l.eventId), undecodable.eventId]));
    expect(rows.find((row) => row.event_id === undecodable.eventId)).toMatchObject({ error_class: 'bad-magic-byte', event_type: 'FundsDeposited' });
    // Every DLQ offset once.
    expect(new Set(rows.map((row) => `${row.dlq_partition}/${row.dlq_offset}`)).size).toBe(9);

    // limit: stops after N matching records.
    const limited = await postReplay({ operator: 'alice', reason: 'sample', ratePerSecond: 1000, dryRun: true, limit: 3 });
    expect(limited.body).toMatchObject({ scanned: 3, dryRun: 3 });
    expect(await auditRows(limited.body.replayId)).toHaveLength(3);

    expect(await eventsOnTopic()).toBe(0);
    expect(await worker.metrics.value('replay_records_total')).toBe(12);
  });

  it('a filtered replay re-publishes exactly the matching records, bytes unchanged, with a replay-id', async () => {
    const matching = letters.filter((l) => l.eventType === 'FundsDeposited' && l.errorClass === 'unknown-account');
    expect(matching).toHaveLength(4);
    const replay = await postReplay({ operator: 'bob', reason: 'accounts exist now', ratePerSecond: 200, filter: { eventTypes: ['FundsDeposited'], errorClasses: ['unknown-account'] } });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ scanned: 9, replayed: 4, filtered: 5, failed: 0, dryRun: 0, mode: 'replay' });
    expect(replay.body.ratePerSecond).toBeGreaterThan(0);
    expect(replay.body.ratePerSecond).toBeLessThanOrEqual(200);

    const published = await readEvents(4);
    expect(published).toHaveLength(4);
    const byEventId = new Map(matching.map((l) => [l.eventId, l]));
    for (const record of published) {
      const original = byEventId.get(record.headers[eventHeaders.eventId]!);
      expect(original, `unexpected record ${record.headers[eventHeaders.eventId]}`).toBeDefined();
      expect(record.value!.equals(original!.value)).toBe(true); // the envelope, so the event id, unchanged
      expect(record.key).toBe(original!.key);
      expect(record.headers).toEqual({ ...headersOf(original!), [eventHeaders.replayId]: replay.body.replayId });
      expect(Object.keys(record.headers).some((name) => name.startsWith('lab.'))).toBe(false);
      byEventId.delete(record.headers[eventHeaders.eventId]!);
    }
    expect(byEventId.size).toBe(0); // each matching record exactly once
    expect(await eventsOnTopic()).toBe(4);

    const rows = await auditRows(replay.body.replayId);
    expect(rows).toHaveLength(9);
    const results = Object.fromEntries(rows.map((row) => [row.event_id as string, row.result as string]));
    for (const letter of letters) expect(results[letter.eventId]).toBe(matching.includes(letter) ? 'replayed' : 'filtered');
    expect(results[undecodable.eventId]).toBe('filtered');
    for (const row of rows) expect(row).toMatchObject({ operator: 'bob', dry_run: 0 });
    expect(rows.find((row) => row.event_id === undecodable.eventId)!.detail).toMatch(/error class bad-magic-byte not in/);
    // The bytes still decode to the same envelope: the consumer's dedupe key is intact.
    for (const record of published) expect((await serde.decode(record.value)).eventId).toBe(record.headers[eventHeaders.eventId]);
  });

  it('respects ratePerSecond: 20 records at 10/s take ≥ 1.9 s between the first and last publish', async () => {
    await produceDeadLetters(Array.from({ length: 20 }, (_, i) => ({ payload: { type: 'FundsDeposited', accountId: `acct-r${i}`, amount: 10 } as WalletEventPayload, errorClass: 'rate-test' })));
    const before = await eventsOnTopic();
    const replay = await postReplay({ operator: 'carol', reason: 'rate limit check', ratePerSecond: 10, filter: { errorClasses: ['rate-test'] } });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ scanned: 29, replayed: 20, filtered: 9, failed: 0 });
    expect(replay.body.ratePerSecond).toBeLessThanOrEqual(10);
    expect(replay.body.ratePerSecond).toBeGreaterThan(8);
    expect(replay.body.durationMs).toBeGreaterThanOrEqual(1900);
    expect(await eventsOnTopic()).toBe(before + 20);
    const timestamps = (await readEvents(before + 20)).filter((r) => r.headers[eventHeaders.replayId] === replay.body.replayId).map((r) => r.timestamp);
    expect(timestamps).toHaveLength(20);
    const span = Math.max(...timestamps) - Math.min(...timestamps);
    // 19 gaps of 100 ms; record timestamps are whole milliseconds taken by the producer.
    expect(span).toBeGreaterThanOrEqual(1890);
    report(`20 records at limit 10/s: measured ${replay.body.ratePerSecond.toFixed(2)}/s, first→last publish ${span} ms, job ${replay.body.durationMs} ms`);
  });

  it('refuses a replay without an operator, reason or a positive rate (400) and writes no audit row', async () => {
    const [[{ count: before }]] = (await arena.database.pool.query('SELECT COUNT(*) AS count FROM replay_audit')) as unknown as [[{ count: number }]];
    const noOperator = await postReplay({ reason: 'x', ratePerSecond: 10 });
    expect(noOperator.status).toBe(400);
    expect(noOperator.body.reason).toMatch(/operator is required/);
    expect((await postReplay({ operator: 'dave', ratePerSecond: 10 })).status).toBe(400);
    expect((await postReplay({ operator: 'dave', reason: 'x', ratePerSecond: 0 })).status).toBe(400);
    expect((await postReplay({ operator: 'dave', reason: 'x', ratePerSecond: 10, filter: { from: 10, to: 5 } })).status).toBe(400);
    const [[{ count: after }]] = (await arena.database.pool.query('SELECT COUNT(*) AS count FROM replay_audit')) as unknown as [[{ count: number }]];
    expect(after).toBe(before);
  });

  it('a failure between publish and audit (failpoint) leaves the published record without an audit row', async () => {
    const before = await eventsOnTopic();
    failpoints.set('replay.after-publish-before-audit', 'error(count=1)');
    try {
      const replay = await postReplay({ operator: 'erin', reason: 'failpoint check', ratePerSecond: 100, filter: { errorClasses: ['invalid-amount'] } });
      expect(replay.status).toBe(500);
    } finally {
      failpoints.clear('replay.after-publish-before-audit');
    }
    // Published (acks=-1) before the failure, never audited: the window the failpoint names.
    expect(await eventsOnTopic()).toBe(before + 1);
    const [rows] = await arena.database.pool.execute<RowDataPacket[]>("SELECT result FROM replay_audit WHERE reason = 'failpoint check'");
    expect(rows.filter((row) => row.result === 'replayed')).toHaveLength(0);
  });
});
