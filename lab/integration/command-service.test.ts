/**
 * command-service against the real MariaDB, Kafka and schema registry (in process, no relay).
 *
 * Question  Does each command change the domain, the ledger and the outbox in one transaction, with the
 *           contract's versions and envelopes; does an Idempotency-Key make retries harmless; is bad
 *           input refused with a reason; does `direct` mode produce straight to Kafka (and lose the event
 *           when the produce fails after COMMIT, instead of hiding it)?
 * Setup     A fresh database and topic set; one outbox-mode service, later direct-mode services on the
 *           same database. An independent consumer reads the topic back and decodes with EnvelopeSerde.
 * Fault     Failpoints `command.before-commit` (outbox) and `command.after-commit-before-produce` (direct)
 *           armed in process with error(count=1).
 * Expected  Outbox: rows with versions 1, 2, … per account and JSON envelopes equal to the responses'
 *           event ids; a retry with the same key replays the first response once applied; 400/404/409/422
 *           as documented. Direct: events on the topic, no outbox rows; an error after COMMIT gives a 500
 *           with the money moved and no event (the dual-write loss, made visible).
 */
import type { RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventHeaders, failpoints, outboxShard, startService, type CommandServiceConfig, type EventEnvelope, type RunningService } from '../../src/contract.ts';
import { waitFor } from '../infra/ports.ts';
import { fileArena, labEnvironment } from '../infra/vitest.ts';
import { readEnvelopes } from '../observe/topic.ts';

const env = labEnvironment();
const report = (line: string) => console.log(`[command-service] ${line}`);

const arena = fileArena(env, 'command');
let outbox: RunningService;

beforeAll(async () => {
  outbox = arena.own(await startService('command', { ...arena.config, mode: 'outbox' }));
});

afterAll(async () => {
  failpoints.clear();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
  replayed: boolean;
}

async function call(service: RunningService, method: string, path: string, options: { body?: unknown; raw?: string; key?: string | null } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined || options.raw !== undefined) headers['content-type'] = 'application/json';
  if (options.key) headers['idempotency-key'] = options.key;
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers,
    ...(options.raw !== undefined ? { body: options.raw } : options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, replayed: response.headers.get('idempotent-replayed') === 'true' };
}

let keys = 0;
const post = (service: RunningService, path: string, body: unknown, key: string | null = `k-${(keys += 1)}`) => call(service, 'POST', path, { body, key });

async function rows(sql: string, params: unknown[] = []): Promise<RowDataPacket[]> {
  const [result] = await arena.database.pool.query<RowDataPacket[]>(sql, params);
  return result;
}

/** The events topic read from the beginning by an independent observer (quiet 1 s: a record more would be an event that should not exist), envelopes decoded. */
const readEvents = (expected: number) => readEnvelopes(env, arena.config.topics.events, { expected, quietMs: 1000, timeoutMs: 60_000 });

describe('command-service, outbox mode', () => {
  it('opens, deposits, withdraws and transfers: domain rows, ledger and outbox envelopes with versions', async () => {
    const alice = await post(outbox, '/accounts', { accountId: 'alice', owner: 'Alice', currency: 'EUR' });
    expect(alice).toMatchObject({ status: 201, body: { accountId: 'alice', balance: 0, version: 1 } });
    const bob = await post(outbox, '/accounts', { accountId: 'bob', owner: 'Bob', currency: 'EUR' });
    expect(bob.status).toBe(201);
    const generated = await post(outbox, '/accounts', { owner: 'No Id', currency: 'USD' });
    expect(generated.status).toBe(201);
    expect(generated.body.accountId).toMatch(/^[0-9a-f-]{36}$/);

    const deposited = await post(outbox, '/accounts/alice/deposits', { amount: 1000 });
    expect(deposited).toMatchObject({ status: 201, body: { accountId: 'alice', balance: 1000, version: 2 } });
    const withdrawn = await post(outbox, '/accounts/alice/withdrawals', { amount: 300 });
    expect(withdrawn).toMatchObject({ status: 201, body: { accountId: 'alice', balance: 700, version: 3 } });
    const transferred = await post(outbox, '/transfers', { transferId: 't-1', fromAccountId: 'alice', toAccountId: 'bob', amount: 200 });
    expect(transferred).toMatchObject({
      status: 201,
      body: { transferId: 't-1', from: { accountId: 'alice', balance: 500, version: 4 }, to: { accountId: 'bob', balance: 200, version: 2 } },
    });

    expect((await call(outbox, 'GET', '/accounts/alice')).body).toEqual({ accountId: 'alice', owner: 'Alice', currency: 'EUR', balance: 500, version: 4 });
    expect((await call(outbox, 'GET', '/accounts/bob')).body).toEqual({ accountId: 'bob', owner: 'Bob', currency: 'EUR', balance: 200, version: 2 });

    const eventIds = (answer: Answer) => answer.body.eventIds as string[];
    const [debitId, creditId] = eventIds(transferred);
    const ledger = await rows("SELECT account_id, amount, kind, reference, event_id FROM ledger_entries WHERE account_id IN ('alice', 'bob') ORDER BY id");
    expect(ledger.map((r) => ({ ...r, amount: Number(r.amount) }))).toEqual([
      { account_id: 'alice', amount: 1000, kind: 'deposit', reference: null, event_id: eventIds(deposited)[0] },
      { account_id: 'alice', amount: -300, kind: 'withdrawal', reference: null, event_id: eventIds(withdrawn)[0] },
      { account_id: 'alice', amount: -200, kind: 'transfer-debit', reference: 't-1', event_id: debitId },
      { account_id: 'bob', amount: 200, kind: 'transfer-credit', reference: 't-1', event_id: creditId },
    ]);
    expect(await rows("SELECT from_account_id, to_account_id, amount FROM transfers WHERE id = 't-1'")).toEqual([{ from_account_id: 'alice', to_account_id: 'bob', amount: 200 }]);

    const outboxRows = await rows("SELECT * FROM outbox_event WHERE aggregate_id IN ('alice', 'bob') ORDER BY id");
    const summary = outboxRows.map((r) => [r.aggregate_id, Number(r.aggregate_version), r.event_type, r.event_id]);
    expect(summary).toEqual([
      ['alice', 1, 'AccountOpened', eventIds(alice)[0]],
      ['bob', 1, 'AccountOpened', eventIds(bob)[0]],
      ['alice', 2, 'FundsDeposited', eventIds(deposited)[0]],
      ['alice', 3, 'FundsWithdrawn', eventIds(withdrawn)[0]],
      ['alice', 4, 'TransferDebited', debitId],
      ['bob', 2, 'TransferCredited', creditId],
    ]);
    for (const row of outboxRows) {
      const envelope = JSON.parse(row.payload as string) as EventEnvelope;
      expect(envelope).toMatchObject({ eventId: row.event_id, eventType: row.event_type, aggregateType: 'account', aggregateId: row.aggregate_id, aggregateVersion: Number(row.aggregate_version) });
      expect(envelope.payload.type).toBe(row.event_type);
      expect(row.shard).toBe(outboxShard(row.aggregate_id as string, 16));
      expect(row.published_at).toBeNull();
      expect(JSON.parse(row.headers as string)).toEqual({
        [eventHeaders.eventId]: envelope.eventId,
        [eventHeaders.eventType]: envelope.eventType,
        [eventHeaders.traceId]: envelope.traceId,
        [eventHeaders.aggregateId]: envelope.aggregateId,
      });
    }
    const debit = JSON.parse(outboxRows[4]!.payload as string) as EventEnvelope;
    expect(debit.payload).toEqual({ type: 'TransferDebited', transferId: 't-1', accountId: 'alice', counterpartyAccountId: 'bob', amount: 200 });
    expect(debit.correlationId).toBe('t-1');
    const credit = JSON.parse(outboxRows[5]!.payload as string) as EventEnvelope;
    expect(credit.payload).toEqual({ type: 'TransferCredited', transferId: 't-1', accountId: 'bob', counterpartyAccountId: 'alice', amount: 200 });
    expect(await outbox.metrics.value('events_written_total')).toBeGreaterThanOrEqual(outboxRows.length);
  });

  it('replays a retried request from the idempotency store, applied once; a reused key with another body is 422', async () => {
    await post(outbox, '/accounts', { accountId: 'carol', owner: 'Carol', currency: 'EUR' });
    const first = await post(outbox, '/accounts/carol/deposits', { amount: 250 }, 'deposit-carol-1');
    expect(first).toMatchObject({ status: 201, replayed: false, body: { balance: 250, version: 2 } });
    const retry = await post(outbox, '/accounts/carol/deposits', { amount: 250 }, 'deposit-carol-1');
    expect(retry).toEqual({ ...first, replayed: true });

    // Five concurrent requests with one new key: exactly one applies, all get its response.
    const concurrent = await Promise.all(Array.from({ length: 5 }, () => post(outbox, '/accounts/carol/deposits', { amount: 40 }, 'deposit-carol-2')));
    expect(concurrent.map((a) => a.status)).toEqual([201, 201, 201, 201, 201]);
    expect(concurrent.filter((a) => !a.replayed)).toHaveLength(1);
    expect(new Set(concurrent.map((a) => JSON.stringify(a.body))).size).toBe(1);

    const reused = await post(outbox, '/accounts/carol/deposits', { amount: 999 }, 'deposit-carol-1');
    expect(reused).toMatchObject({ status: 422, body: { error: 'idempotency-key-reused' } });
    const otherPath = await post(outbox, '/accounts/carol/withdrawals', { amount: 250 }, 'deposit-carol-1');
    expect(otherPath.status).toBe(422);

    expect((await call(outbox, 'GET', '/accounts/carol')).body).toMatchObject({ balance: 290, version: 3 });
    expect(await rows("SELECT kind, amount FROM ledger_entries WHERE account_id = 'carol' ORDER BY id")).toEqual([
      { kind: 'deposit', amount: 250 },
      { kind: 'deposit', amount: 40 },
    ]);
    expect(await rows("SELECT COUNT(*) AS n FROM outbox_event WHERE aggregate_id = 'carol'")).toEqual([{ n: 3 }]);
    expect(await outbox.metrics.value('commands_total')).toBeGreaterThan(0);
  });

  it('rolls back everything when it fails before COMMIT; the retry with the same key then applies once', async () => {
    await post(outbox, '/accounts', { accountId: 'dave', owner: 'Dave', currency: 'EUR' });
    failpoints.set('command.before-commit', 'error(count=1)');
    try {
      const failed = await post(outbox, '/accounts/dave/deposits', { amount: 70 }, 'deposit-dave');
      expect(failed.status).toBe(500);
      expect(failpoints.stats()['command.before-commit']?.fired).toBe(1);
    } finally {
      failpoints.clear('command.before-commit');
    }
    expect(await rows("SELECT balance, version FROM accounts WHERE id = 'dave'")).toEqual([{ balance: 0, version: 1 }]);
    expect(await rows("SELECT COUNT(*) AS n FROM idempotency_keys WHERE idempotency_key = 'deposit-dave'")).toEqual([{ n: 0 }]);
    const retried = await post(outbox, '/accounts/dave/deposits', { amount: 70 }, 'deposit-dave');
    expect(retried).toMatchObject({ status: 201, replayed: false, body: { balance: 70, version: 2 } });
    expect(await rows("SELECT COUNT(*) AS n FROM outbox_event WHERE aggregate_id = 'dave'")).toEqual([{ n: 2 }]);
  });

  it('runs opposite transfers concurrently without deadlock failures, conserving money and versions', async () => {
    for (const accountId of ['fay', 'gus']) {
      await post(outbox, '/accounts', { accountId, owner: accountId, currency: 'EUR' });
      await post(outbox, `/accounts/${accountId}/deposits`, { amount: 1000 });
    }
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        post(outbox, '/transfers', i % 2 === 0 ? { fromAccountId: 'fay', toAccountId: 'gus', amount: 30 + i } : { fromAccountId: 'gus', toAccountId: 'fay', amount: 30 + i }),
      ),
    );
    expect(answers.filter((a) => a.status !== 201)).toEqual([]);
    const accounts = await rows("SELECT id, balance, version FROM accounts WHERE id IN ('fay', 'gus') ORDER BY id");
    expect(Number(accounts[0]!.balance) + Number(accounts[1]!.balance)).toBe(2000);
    expect(accounts.map((a) => Number(a.version))).toEqual([42, 42]);
    const versions = await rows("SELECT aggregate_id, aggregate_version FROM outbox_event WHERE aggregate_id IN ('fay', 'gus') ORDER BY id");
    for (const accountId of ['fay', 'gus']) {
      expect(versions.filter((r) => r.aggregate_id === accountId).map((r) => Number(r.aggregate_version))).toEqual(Array.from({ length: 42 }, (_, i) => i + 1));
    }
  });

  it('refuses bad input with a status and a reason, and changes nothing', async () => {
    await post(outbox, '/accounts', { accountId: 'erin', owner: 'Erin', currency: 'EUR' });
    await post(outbox, '/accounts/erin/deposits', { amount: 100 });
    const before = await rows('SELECT (SELECT COUNT(*) FROM ledger_entries) AS ledger, (SELECT COUNT(*) FROM outbox_event) AS outbox, (SELECT COUNT(*) FROM idempotency_keys) AS idem');

    const malformed = await call(outbox, 'POST', '/accounts/erin/deposits', { raw: '{"amount": 5', key: 'bad-1' });
    expect(malformed.status).toBe(400);
    expect(String(malformed.body.reason)).toMatch(/JSON/i);

    const missingKey = await post(outbox, '/accounts/erin/deposits', { amount: 5 }, null);
    expect(missingKey).toMatchObject({ status: 400, body: { error: 'missing-idempotency-key' } });

    for (const amount of [-5, 0, 1.5, '100', 2 ** 53]) {
      const answer = await post(outbox, '/accounts/erin/deposits', { amount });
      expect({ amount, status: answer.status }).toEqual({ amount, status: 400 });
      expect(String(answer.body.reason)).toMatch(/amount/);
    }
    expect((await post(outbox, '/accounts/erin/deposits', {})).status).toBe(400);
    expect((await post(outbox, '/accounts', { owner: 'X', currency: 'eur' })).status).toBe(400);
    expect((await post(outbox, '/accounts', { accountId: 'has space', owner: 'X', currency: 'EUR' })).status).toBe(400);
    expect((await post(outbox, '/accounts/nobody/deposits', { amount: 5 })).status).toBe(404);
    expect((await call(outbox, 'GET', '/accounts/nobody')).status).toBe(404);
    expect((await post(outbox, '/transfers', { fromAccountId: 'erin', toAccountId: 'nobody', amount: 5 })).status).toBe(404);

    const insufficient = await post(outbox, '/accounts/erin/withdrawals', { amount: 101 });
    expect(insufficient).toMatchObject({ status: 409, body: { error: 'insufficient-funds' } });
    const insufficientTransfer = await post(outbox, '/transfers', { fromAccountId: 'erin', toAccountId: 'alice', amount: 101 });
    expect(insufficientTransfer).toMatchObject({ status: 409, body: { error: 'insufficient-funds' } });
    const self = await post(outbox, '/transfers', { fromAccountId: 'erin', toAccountId: 'erin', amount: 5 });
    expect(self).toMatchObject({ status: 400, body: { error: 'self-transfer' } });
    expect((await post(outbox, '/accounts', { accountId: 'erin', owner: 'Again', currency: 'EUR' })).status).toBe(409);

    expect(await rows('SELECT (SELECT COUNT(*) FROM ledger_entries) AS ledger, (SELECT COUNT(*) FROM outbox_event) AS outbox, (SELECT COUNT(*) FROM idempotency_keys) AS idem')).toEqual(before);
    expect(await rows("SELECT balance, version FROM accounts WHERE id = 'erin'")).toEqual([{ balance: 100, version: 2 }]);
  });
});

describe('command-service, two round trips per command (issue 8)', () => {
  it('sends a command in two round trips and still tells every refusal apart', async () => {
    await post(outbox, '/accounts', { accountId: 'hal', owner: 'Hal', currency: 'EUR' });
    await post(outbox, '/accounts', { accountId: 'ida', owner: 'Ida', currency: 'EUR' });
    const roundTrips = () => outbox.metrics.value('db_round_trips_total');
    // BEGIN + key claim + account lock, then the writes with COMMIT: the lock is held for one round trip.
    let before = await roundTrips();
    expect((await post(outbox, '/accounts/hal/deposits', { amount: 100 })).status).toBe(201);
    expect((await roundTrips()) - before).toBe(2);
    before = await roundTrips();
    expect((await post(outbox, '/transfers', { transferId: 't-hal-1', fromAccountId: 'hal', toAccountId: 'ida', amount: 30 })).status).toBe(201);
    expect((await roundTrips()) - before).toBe(2);

    const state = () => rows("SELECT (SELECT COUNT(*) FROM ledger_entries) AS ledger, (SELECT COUNT(*) FROM outbox_event) AS outbox, (SELECT COUNT(*) FROM idempotency_keys) AS idem, (SELECT COUNT(*) FROM transfers) AS transfers");
    const unchanged = await state();
    expect(await post(outbox, '/accounts/hal/deposits', { amount: 2 ** 53 - 2 })).toMatchObject({ status: 409, body: { error: 'balance-limit' } });
    expect(await post(outbox, '/accounts/hal/withdrawals', { amount: 71 })).toMatchObject({ status: 409, body: { error: 'insufficient-funds' } });
    expect(await post(outbox, '/accounts/nobody/withdrawals', { amount: 1 })).toMatchObject({ status: 404, body: { error: 'account-not-found' } });
    expect(await post(outbox, '/transfers', { fromAccountId: 'nobody', toAccountId: 'hal', amount: 1 })).toMatchObject({ status: 404, body: { error: 'account-not-found' } });
    expect(await post(outbox, '/accounts', { accountId: 'hal', owner: 'Again', currency: 'EUR' })).toMatchObject({ status: 409, body: { error: 'account-exists' } });
    // A transfer id already used is refused as such, also when the funds would not suffice now.
    expect(await post(outbox, '/transfers', { transferId: 't-hal-1', fromAccountId: 'hal', toAccountId: 'ida', amount: 30 })).toMatchObject({ status: 409, body: { error: 'transfer-exists' } });
    expect(await post(outbox, '/transfers', { transferId: 't-hal-1', fromAccountId: 'hal', toAccountId: 'ida', amount: 1000 })).toMatchObject({ status: 409, body: { error: 'transfer-exists' } });
    expect(await state()).toEqual(unchanged);
    expect(await rows("SELECT id, balance, version FROM accounts WHERE id IN ('hal', 'ida') ORDER BY id")).toEqual([
      { id: 'hal', balance: 70, version: 3 },
      { id: 'ida', balance: 30, version: 2 },
    ]);
  });

  it('refuses a transfer id that another transaction took while this one was deciding (the primary key, not the early read)', async () => {
    for (const accountId of ['jo', 'kit', 'lou', 'max']) await post(outbox, '/accounts', { accountId, owner: accountId, currency: 'EUR' });
    await post(outbox, '/accounts/jo/deposits', { amount: 100 });
    await post(outbox, '/accounts/lou/deposits', { amount: 100 });
    // The first transfer reads "no such transfer id", then pauses before sending its writes; the second,
    // on other accounts (no lock orders the two), writes the same id and commits meanwhile.
    failpoints.set('command.before-commit', 'sleep(1500,count=1)');
    try {
      const slow = post(outbox, '/transfers', { transferId: 't-race', fromAccountId: 'jo', toAccountId: 'kit', amount: 5 });
      await waitFor('the first transfer to pause before its writes', async () => failpoints.stats()['command.before-commit']?.fired === 1, { timeoutMs: 10_000, intervalMs: 10 });
      expect(await post(outbox, '/transfers', { transferId: 't-race', fromAccountId: 'lou', toAccountId: 'max', amount: 5 })).toMatchObject({ status: 201 });
      expect(await slow).toMatchObject({ status: 409, body: { error: 'transfer-exists' } });
    } finally {
      failpoints.clear('command.before-commit');
    }
    expect(await rows("SELECT id, balance, version FROM accounts WHERE id IN ('jo', 'kit', 'lou', 'max') ORDER BY id")).toEqual([
      { id: 'jo', balance: 100, version: 2 },
      { id: 'kit', balance: 0, version: 1 },
      { id: 'lou', balance: 95, version: 3 },
      { id: 'max', balance: 5, version: 2 },
    ]);
    expect(await rows("SELECT from_account_id FROM transfers WHERE id = 't-race'")).toEqual([{ from_account_id: 'lou' }]);
  });
});

describe('command-service, strict request bodies (issue 7)', () => {
  it('refuses unknown properties and duplicated keys with a 400 naming them, and changes nothing', async () => {
    await post(outbox, '/accounts', { accountId: 'strict', owner: 'Stella', currency: 'EUR' });
    await post(outbox, '/accounts', { accountId: 'strict-2', owner: 'Stan', currency: 'EUR' });
    await post(outbox, '/accounts/strict/deposits', { amount: 100 });
    const state = () => rows("SELECT (SELECT COUNT(*) FROM ledger_entries) AS ledger, (SELECT COUNT(*) FROM outbox_event) AS outbox, (SELECT COUNT(*) FROM idempotency_keys) AS idem, (SELECT balance FROM accounts WHERE id = 'strict') AS balance");
    const before = await state();

    // Unknown properties: once stripped silently (and the deposit applied), now refused by name.
    const extra = await post(outbox, '/accounts/strict/deposits', { amount: 5, memo: 'gift' });
    expect(extra).toMatchObject({ status: 400, body: { error: 'bad-request' } });
    expect(String(extra.body.reason)).toMatch(/'memo'/);
    const typo = await post(outbox, '/accounts/strict/withdrawals', { amount: 5, ammount: 500 });
    expect(typo.status).toBe(400);
    expect(String(typo.body.reason)).toMatch(/'ammount'/);
    const open = await post(outbox, '/accounts', { accountId: 'strict-3', owner: 'X', currency: 'EUR', overdraftLimit: 1000 });
    expect(open.status).toBe(400);
    expect(String(open.body.reason)).toMatch(/'overdraftLimit'/);
    const transfer = await post(outbox, '/transfers', { fromAccountId: 'strict', toAccountId: 'strict-2', amount: 5, fee: 0 });
    expect(transfer.status).toBe(400);
    expect(String(transfer.body.reason)).toMatch(/'fee'/);

    // The same key twice: JSON.parse would keep the last one. Refused, whatever the values.
    for (const [i, raw] of ['{"amount":1,"amount":2}', '{"amount":5,"amount":5}', '{"amount":1,"\\u0061mount":2}'].entries()) {
      const duplicate = await call(outbox, 'POST', '/accounts/strict/deposits', { raw, key: `dup-${i}` });
      expect({ raw, status: duplicate.status, error: duplicate.body.error }).toEqual({ raw, status: 400, error: 'duplicate-key' });
      expect(String(duplicate.body.reason)).toMatch(/'amount'/);
    }
    const nested = await call(outbox, 'POST', '/transfers', { raw: '{"fromAccountId":"strict","toAccountId":"strict-2","toAccountId":"strict","amount":5}', key: 'dup-transfer' });
    expect(nested).toMatchObject({ status: 400, body: { error: 'duplicate-key' } });

    expect(await state()).toEqual(before);
    // A well-formed request still goes through.
    expect((await post(outbox, '/accounts/strict/deposits', { amount: 5 })).status).toBe(201);
    report('strict bodies: unknown properties and duplicated keys refused with 400 naming them, nothing applied');
  });
});

describe('command-service, direct mode (the dual write)', () => {
  const direct = async (directOrder: CommandServiceConfig['directOrder']) => arena.own(await startService('command', { ...arena.config, mode: 'direct', directOrder }));

  it('produces the events to Kafka (contract key, headers, Avro value) and writes no outbox rows', async () => {
    const commitFirst = await direct('commit-then-produce');
    const produceFirst = await direct('produce-then-commit');

    const opened = await post(commitFirst, '/accounts', { accountId: 'dora', owner: 'Dora', currency: 'EUR' });
    const deposited = await post(produceFirst, '/accounts/dora/deposits', { amount: 500 });
    const withdrawn = await post(commitFirst, '/accounts/dora/withdrawals', { amount: 120 });
    expect([opened.status, deposited.status, withdrawn.status]).toEqual([201, 201, 201]);
    const expectedIds = [opened, deposited, withdrawn].map((a) => (a.body.eventIds as string[])[0]);

    // A produce failure after COMMIT: 500, money moved, no event. Not hidden, not retried.
    failpoints.set('command.after-commit-before-produce', 'error(count=1)');
    let lost: Answer;
    try {
      lost = await post(commitFirst, '/accounts/dora/deposits', { amount: 1 }, 'dora-lost');
      expect(failpoints.stats()['command.after-commit-before-produce']?.fired).toBe(1);
    } finally {
      failpoints.clear('command.after-commit-before-produce');
    }
    expect(lost!).toMatchObject({ status: 500, body: { error: 'produce-failed' } });
    expect(await rows("SELECT balance, version FROM accounts WHERE id = 'dora'")).toEqual([{ balance: 381, version: 4 }]);
    const [lostEvent] = await rows("SELECT event_id FROM ledger_entries WHERE account_id = 'dora' AND amount = 1");
    expect(lostEvent).toBeDefined();

    const records = await readEvents(3); // only direct mode produces, and only dora's events
    const dora = records.filter((r) => r.key === 'dora').sort((a, b) => a.offset - b.offset);
    report(`direct mode: ${dora.length} of 4 committed changes of 'dora' on the topic (1 lost by the failpoint)`);
    expect(dora.map((r) => r.envelope.eventId)).toEqual(expectedIds);
    expect(dora.map((r) => [r.envelope.eventType, r.envelope.aggregateVersion])).toEqual([
      ['AccountOpened', 1],
      ['FundsDeposited', 2],
      ['FundsWithdrawn', 3],
    ]);
    expect(new Set(dora.map((r) => r.partition)).size).toBe(1);
    for (const record of dora) {
      expect(record.headers).toMatchObject({
        [eventHeaders.eventId]: record.envelope.eventId,
        [eventHeaders.eventType]: record.envelope.eventType,
        [eventHeaders.traceId]: record.envelope.traceId,
        [eventHeaders.aggregateId]: 'dora',
      });
    }
    expect(dora.map((r) => r.envelope.eventId)).not.toContain(lostEvent!.event_id);
    expect(records.map((r) => r.envelope.eventId)).not.toContain(lostEvent!.event_id);
    expect(await rows("SELECT COUNT(*) AS n FROM outbox_event WHERE aggregate_id = 'dora'")).toEqual([{ n: 0 }]);
    expect(await commitFirst.metrics.value('events_written_total')).toBe(2);
    expect(await produceFirst.metrics.value('events_written_total')).toBe(1);
  });
});
