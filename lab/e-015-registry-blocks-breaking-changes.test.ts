/**
 * E-015 — The registry blocks breaking changes.
 *
 * Question  A producer team changes the event schema in a way the running consumers cannot read and deploys
 *           first. Does anything stop the change before the consumers break: the registry's compatibility
 *           level, or the gate a CI runs before the deploy (`npx lab schema check`)? And does topic versioning
 *           ship a change no level admits with every effect applied exactly once?
 * Setup     Per arm a fresh events topic (3 partitions) and the consumer-service as its own process (the old
 *           build: it reads the envelope of fixtures/avro); 2 accounts opened with v1 events and applied; then
 *           the subject's level is set (PUT /config/{subject}). The change: `aggregateVersion` long → string,
 *           breaking in both directions (a long reader cannot read a string, nor a string reader a long).
 *           The new producer does what any producer does: it registers its schema under the topic's subject
 *           through the registry's Confluent API and frames its records with the id it was given.
 *           Topic versioning arms, the way to ship the change anyway: a `<events>.v2` topic (its own subject,
 *           so no level refuses it). The producer dual-writes every event (v1 bytes to the old topic, v2 to the
 *           new, same eventId); the new consumer build (consumer-service with `envelopeSchemaFile` = the v2
 *           schema, `topics` = the v2 set, its own Kafka group) reads v2 from the beginning; the old consumer is
 *           stopped, the producer stops writing v1, the old topic is deleted. Phases (2 accounts, deposits
 *           alternate): A 2 on v1 only → B 4 dual, applied by the old consumer → the new consumer starts and
 *           catches up (it reads B again) → C 4 dual with both consumers running → old consumer stopped → D 4
 *           dual (v1 unread) → v1 retired → E 4 on v2 only.
 * Fault     The deploy itself: the gate run on the new schema, then the new producer's registration and, if it
 *           was accepted, 4 records; after it the old producer goes on with 4 v1 deposits. In the topic
 *           versioning arms: two consumer builds reading the same events from two topics.
 * Expected  ❌ level NONE: the gate passes (exit 0, saying that NONE checks nothing), the registration is
 *              accepted, and every v2 record goes to the DLQ as `incompatible-schema` (broken = sent = 4); the
 *              consumers stay up and apply the v1 deposits after it.
 *           ✅ levels BACKWARD, FORWARD and FULL in turn: the gate exits 1 naming the field, the registry
 *              refuses the registration (HTTP 409): nothing is sent, broken = 0, every v1 deposit applied.
 *           ✅ topic versioning with a shared dedupe key (`dedupeGroup` = the old consumer's group): every
 *              event applied exactly once (lost 0, duplicated 0, balances = the deposits), dedupeSkips = the
 *              events read on both topics (B + C = 8), nothing in either DLQ, the old topic gone; the gate
 *              passes the new subject (exit 0) and fails the old one (exit 1).
 *           ❌ topic versioning, the new build deduping under its own group (the default, = its Kafka group):
 *              it applies B's 4 events again (duplicated 4, both balances off); C is left out (two consumers
 *              applying one account concurrently without a shared key race on its version).
 * Numbers   gateExits (sum of exit codes), accepted / refused (registrations), sent (v2 records written),
 *           broken (DLQ records of class incompatible-schema), applied (v1 deposits applied after the deploy);
 *           migration: events, lost, duplicated, balancesOff (accounts whose projected balance ≠ deposits),
 *           dedupeSkips (duplicates_skipped_total of both consumers), parked (both DLQs), oldTopicLeft.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import avro from 'avsc';
import { EnvelopeSerde, ensureTopics, envelopeHeaders, envelopeSchema, failureHeaders, frame, newEnvelope, RegistrySchemaSource, type EventEnvelope, type TopicNames } from '../src/contract.ts';
import { accountStream, recordSender } from './clients/record-sender.ts';
import { createArena, type Arena } from './infra/arena.ts';
import { labEnvironment } from './infra/vitest.ts';
import { equals, experiment } from './kit/index.ts';
import { applications, waitApplied } from './observe/database.ts';
import { deadLetters } from './observe/dead-letters.ts';
import { observeService } from './observe/service.ts';
import { caughtUp, recordCount } from './observe/topic.ts';
import { waitFor } from './infra/ports.ts';
import type { Level } from './schema/compatibility.ts';
import { check, RegistryApi } from './schema/gate.ts';

const env = labEnvironment();
const e015 = experiment({ id: 'E-015', title: 'The registry blocks breaking changes', suite: 'lab/e-015',
  question: 'A producer team changes the event schema in a way the running consumers cannot read and deploys first. Does anything stop the change before the consumers break: the registry\'s compatibility level, or the gate a CI runs before the deploy (`npx lab schema check`)? And does topic versioning ship a change no level admits with every effect applied exactly once?',
  arena: (label) => createArena(env, `e015_${label}`, 3) });

const v1 = avro.Type.forSchema(JSON.parse(envelopeSchema()) as avro.Schema);
const v2Schema = JSON.parse(envelopeSchema()) as { fields: Array<{ name: string; type: unknown }> };
v2Schema.fields.find((field) => field.name === 'aggregateVersion')!.type = 'string';
const v2 = avro.Type.forSchema(v2Schema as avro.Schema);
const v2File = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'e015-')), 'wallet-event-envelope.v2.avsc');
fs.writeFileSync(v2File, JSON.stringify(v2Schema));
const deposit = (amount: number) => (accountId: string) => ({ type: 'FundsDeposited' as const, accountId, amount });

/** The arm's consumer and old producer, the accounts opened and applied, and the deploy's parts. */
async function setUp(arena: Arena) {
  const sender = await recordSender(env, arena.config.topics);
  arena.defer(sender.close);
  const stream = accountStream(sender, ['acct-0', 'acct-1'], 3);
  await arena.start('consumer', { groupId: `${arena.id}.projection`, logLevel: 'error' });
  await stream.open(); // registers v1 under the subject (before its level is set: see setLevel)
  await waitApplied(arena.database.pool, stream.openings.map((e) => e.eventId), 'the account openings');
  const subject = `${arena.config.topics.events}-value`;
  const registry = new RegistryApi(env.descriptor.schemaRegistry.url);
  return {
    stream,
    registry,
    subject,
    /** The subject's level, as an operator sets it (after v1: the services' client refuses a subject whose level differs from its own). */
    setLevel: async (level: Level) => {
      const response = await fetch(`${registry.url}/config/${encodeURIComponent(subject)}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' }, body: JSON.stringify({ compatibility: level }) });
      if (!response.ok) throw new Error(`setting ${subject} to ${level}: HTTP ${response.status} ${await response.text()}`);
    },
    /** `npx lab schema check` on the new schema: its exit code and what it printed. */
    gate: async () => {
      const lines: string[] = [];
      const code = await check(registry, [{ subject, file: v2File }], (line) => lines.push(line));
      return { code, text: lines.join('\n') };
    },
    /** The new producer: a deposit encoded as v1, re-encoded as v2 (aggregateVersion a string), framed with `id`. */
    sendV2: async (id: number, index: number) => {
      const account = stream.accounts[index % 2]!;
      const e = newEnvelope(deposit(7)(account), { id: account, version: 1000 + index }); // outside the v1 stream's versions
      const decoded = v1.fromBuffer((await sender.encode(e)).subarray(5)) as Record<string, unknown>;
      await sender.send(index % 2, e.aggregateId, frame(id, v2.toBuffer({ ...decoded, aggregateVersion: String(decoded.aggregateVersion) })), envelopeHeaders(e));
    },
    parked: deadLetters(env, arena.admin, arena.config.topics),
    /** The old producer after the deploy: 4 v1 deposits, waited for until applied. */
    afterwards: async () => {
      const sent = [];
      for (let i = 0; i < 4; i += 1) sent.push((await stream.send(i, deposit(10 + i))).e);
      await waitApplied(arena.database.pool, sent.map((e) => e.eventId), 'the v1 deposits after the deploy');
      return sent.length;
    },
  };
}

e015.arm('❌ level NONE lets the breaking schema in', {
  label: 'none',
  expect: { gateExits: equals(0), accepted: equals(1), sent: equals(4), broken: equals('sent'), applied: equals(4) },
  run: async ({ arena, log }) => {
    const deploy = await setUp(arena);
    await deploy.setLevel('NONE');
    const gate = await deploy.gate();
    const registered = await deploy.registry.register(deploy.subject, JSON.stringify(v2Schema));
    if (registered.id === undefined) throw new Error(`under NONE the registry refused the schema: ${registered.rejected}`);
    for (let i = 0; i < 4; i += 1) await deploy.sendV2(registered.id, i);
    await deploy.parked.caughtUp(4);
    const letters = await deploy.parked.read(4);
    const broken = letters.filter((letter) => letter.headers[failureHeaders.errorClass] === 'incompatible-schema').length;
    const applied = await deploy.afterwards();
    log(`NONE: gate exit ${gate.code} (${gate.text.split('\n')[0]}); registered as id ${registered.id}; ${broken} of 4 v2 records in the DLQ as incompatible-schema; ${applied} v1 deposits applied after`);
    return { gateExits: gate.code, accepted: 1, sent: 4, broken, dlq: letters.length, applied };
  },
});

e015.arm('✅ BACKWARD, FORWARD and FULL refuse it, in the gate and at registration', {
  label: 'refused',
  expect: { gateExits: equals(3), gateNamedField: equals(3), refused: equals(3), accepted: equals(0), sent: equals(0), broken: equals(0), applied: equals(4) },
  run: async ({ arena, log }) => {
    const deploy = await setUp(arena);
    let [gateExits, gateNamedField, refused, accepted] = [0, 0, 0, 0];
    for (const level of ['BACKWARD', 'FORWARD', 'FULL'] as const) {
      await deploy.setLevel(level);
      const gate = await deploy.gate();
      gateExits += gate.code;
      if (gate.text.includes('EventEnvelope.aggregateVersion: type changed')) gateNamedField += 1;
      const registered = await deploy.registry.register(deploy.subject, JSON.stringify(v2Schema));
      if (registered.rejected?.startsWith('HTTP 409')) refused += 1;
      if (registered.id !== undefined) accepted += 1; // a producer would now write records old consumers cannot read
      log(`${level}: gate exit ${gate.code}; registration ${registered.rejected ?? `accepted as id ${registered.id}`}`);
    }
    const applied = await deploy.afterwards();
    return { gateExits, gateNamedField, refused, accepted, sent: 0, broken: await deploy.parked.count(), applied };
  },
});

/** The `<events>.v2` topic set: events, retry and DLQ topics of the new build. */
const v2Topics = (t: TopicNames): TopicNames => ({ events: `${t.events}.v2`, retry: t.retry.map((_, i) => `${t.events}.v2.retry-${i + 1}`), retryDelaysMs: t.retryDelaysMs, dlq: `${t.events}.v2.dlq` });

/** The topic-versioning migration (phases in the header); `dedupe` is the new build's processed_event group. */
async function migrate(arena: Arena, dedupe: 'shared' | 'own', overlap: number) {
  const [v1t, v2t] = [arena.config.topics, v2Topics(arena.config.topics)];
  await ensureTopics(arena.admin, v2t, 3);
  const [oldSender, newSender] = [await recordSender(env, v1t), await recordSender(env, v2t)];
  arena.defer(oldSender.close), arena.defer(newSender.close); // each deletes its topic's subject
  const serdeV2 = new EnvelopeSerde(new RegistrySchemaSource(env.descriptor.schemaRegistry.url), { subject: `${v2t.events}-value`, schema: JSON.stringify(v2Schema) });
  const registry = new RegistryApi(env.descriptor.schemaRegistry.url);
  const group = `${arena.id}.projection`;
  const old = await arena.start('consumer', { groupId: group, logLevel: 'error' });
  const stream = accountStream(oldSender, ['acct-0', 'acct-1'], 3);
  await stream.open();
  const versions = new Map(stream.accounts.map((a) => [a, 1]));
  const sent: EventEnvelope[] = [...stream.openings];
  /** n deposits, the producer writing the old topic, both (dual write) or the new one; waited for until applied. */
  const write = async (to: 'v1' | 'both' | 'v2', n: number) => {
    const batch: EventEnvelope[] = [];
    for (let i = 0; i < n; i += 1) {
      const account = stream.accounts[i % 2]!;
      const e = newEnvelope(deposit(10 + sent.length)(account), { id: account, version: versions.set(account, versions.get(account)! + 1).get(account)! });
      if (to !== 'v2') await oldSender.sendEvent(i % 2, e);
      if (to !== 'v1') await newSender.send(i % 2, account, await serdeV2.encode(e), envelopeHeaders(e));
      batch.push(e), sent.push(e);
    }
    await waitApplied(arena.database.pool, batch.map((e) => e.eventId), `${n} deposits written to ${to}`);
  };
  await write('v1', 2);
  const gate = (subject: string) => check(registry, [{ subject, file: v2File }], () => undefined);
  const gateExits = { oldSubject: await gate(`${v1t.events}-value`), newSubject: await gate(`${v2t.events}-value`) };
  await write('both', 4); // B: applied by the old consumer
  const fresh = await arena.start('consumer', { groupId: `${group}.v2`, topics: v2t, envelopeSchemaFile: v2File, ...(dedupe === 'shared' ? { dedupeGroup: group } : {}), logLevel: 'error' });
  const bothCaughtUp = () => waitFor('both consumers caught up', async () => (await caughtUp(arena.admin, group, v1t.events)) && caughtUp(arena.admin, `${group}.v2`, v2t.events), { timeoutMs: 60_000 });
  await bothCaughtUp(); // the new build has read B again
  await write('both', overlap); // C: both consumers running
  await bothCaughtUp();
  const skipsOld = await observeService(old).metric('duplicates_skipped_total');
  await old.stop(); // consumers migrated
  await write('both', 4); // D: the old topic is not read any more
  await arena.admin.deleteTopics({ topics: [v1t.events, ...v1t.retry] }); // the producer stops writing v1: retired
  await write('v2', 4); // E
  await waitFor('the new consumer caught up', () => caughtUp(arena.admin, `${group}.v2`, v2t.events), { timeoutMs: 60_000 });
  const applied = await applications(arena.database.pool);
  const deposits = new Map<string, number>();
  for (const e of sent) if (e.payload.type === 'FundsDeposited') deposits.set(e.aggregateId, (deposits.get(e.aggregateId) ?? 0) + e.payload.amount);
  const [balances] = await arena.database.pool.query('SELECT account_id, balance FROM account_balance_view') as unknown as [Array<{ account_id: string; balance: string }>];
  return {
    gateExits, events: sent.length, readTwice: 4 + overlap,
    lost: sent.filter((e) => !applied.has(e.eventId)).length,
    duplicated: [...applied.values()].reduce((sum, n) => sum + n - 1, 0), unexpected: [...applied.keys()].filter((id) => !sent.some((e) => e.eventId === id)).length,
    balancesOff: balances.filter((row) => Number(row.balance) !== deposits.get(row.account_id)).length,
    dedupeSkips: skipsOld + (await observeService(fresh).metric('duplicates_skipped_total')),
    parked: (await recordCount(arena.admin, v1t.dlq)) + (await recordCount(arena.admin, v2t.dlq)),
    oldTopicLeft: (await arena.admin.listTopics()).includes(v1t.events) ? 1 : 0,
  };
}

e015.arm('✅ topic versioning: dual write to `….v2`, consumers migrated, old topic retired', {
  label: 'v2',
  expect: { gateNew: equals(0), gateOld: equals(1), lost: equals(0), duplicated: equals(0), unexpected: equals(0), balancesOff: equals(0), dedupeSkips: equals('readTwice'), parked: equals(0), oldTopicLeft: equals(0) },
  run: async ({ arena, log }) => {
    const { gateExits, ...n } = await migrate(arena, 'shared', 4);
    log(`topic versioning: ${n.events} events, lost ${n.lost}, duplicated ${n.duplicated}; ${n.dedupeSkips} of ${n.readTwice} events read on both topics skipped by processed_event; gate exit ${gateExits.newSubject} on the new subject, ${gateExits.oldSubject} on the old`);
    return { gateNew: gateExits.newSubject, gateOld: gateExits.oldSubject, ...n };
  },
});

e015.arm('❌ topic versioning, the new build deduping under its own group', {
  label: 'v2own',
  expect: { lost: equals(0), duplicated: equals(4), unexpected: equals(0), balancesOff: equals(2), dedupeSkips: equals(0), parked: equals(0), oldTopicLeft: equals(0) },
  run: async ({ arena, log }) => {
    const { gateExits: _, ...n } = await migrate(arena, 'own', 0);
    log(`own dedupe group: ${n.events} events, lost ${n.lost}, duplicated ${n.duplicated} (the dual-write events the old consumer had applied), ${n.balancesOff} balances off`);
    return n;
  },
});
