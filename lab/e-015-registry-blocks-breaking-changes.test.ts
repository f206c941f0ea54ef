/**
 * E-015 — The registry blocks breaking changes.
 *
 * Question  A producer team changes the event schema in a way the running consumers cannot read and deploys
 *           first. Does anything stop the change before the consumers break: the registry's compatibility
 *           level, or the gate a CI runs before the deploy (`npx lab schema check`)?
 * Setup     Per arm a fresh events topic (3 partitions) and the consumer-service as its own process (the old
 *           build: it reads the envelope of fixtures/avro); 2 accounts opened with v1 events and applied; then
 *           the subject's level is set (PUT /config/{subject}). The change: `aggregateVersion` long → string,
 *           breaking in both directions (a long reader cannot read a string, nor a string reader a long).
 *           The new producer does what any producer does: it registers its schema under the topic's subject
 *           through the registry's Confluent API and frames its records with the id it was given.
 * Fault     The deploy itself: the gate run on the new schema, then the new producer's registration and, if it
 *           was accepted, 4 records; after it the old producer goes on with 4 v1 deposits.
 * Expected  ❌ level NONE: the gate passes (exit 0, saying that NONE checks nothing), the registration is
 *              accepted, and every v2 record goes to the DLQ as `incompatible-schema` (broken = sent = 4); the
 *              consumers stay up and apply the v1 deposits after it.
 *           ✅ levels BACKWARD, FORWARD and FULL in turn: the gate exits 1 naming the field, the registry
 *              refuses the registration (HTTP 409): nothing is sent, broken = 0, every v1 deposit applied.
 * Numbers   gateExits (sum of exit codes), accepted / refused (registrations), sent (v2 records written),
 *           broken (DLQ records of class incompatible-schema), applied (v1 deposits applied after the deploy).
 *           Topic versioning (a `.v2` topic and dual write) is not measured here yet.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import avro from 'avsc';
import { envelopeHeaders, envelopeSchema, failureHeaders, frame, newEnvelope } from '../src/contract.ts';
import { accountStream, recordSender } from './clients/record-sender.ts';
import { createArena, type Arena } from './infra/arena.ts';
import { labEnvironment } from './infra/vitest.ts';
import { equals, experiment } from './kit/index.ts';
import { waitApplied } from './observe/database.ts';
import { deadLetters } from './observe/dead-letters.ts';
import type { Level } from './schema/compatibility.ts';
import { check, RegistryApi } from './schema/gate.ts';

const env = labEnvironment();
const e015 = experiment({ id: 'E-015', title: 'The registry blocks breaking changes', suite: 'lab/e-015',
  question: 'A producer team changes the event schema in a way the running consumers cannot read and deploys first. Does anything stop the change before the consumers break: the registry\'s compatibility level, or the gate a CI runs before the deploy (`npx lab schema check`)?',
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
