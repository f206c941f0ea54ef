/**
 * E-006 — Schema change × deploy order.
 *
 * Question  A schema change passes the registry's compatibility level. Which deploy order keeps every
 *           consumer reading — producers first or consumers first — for each kind of change and each level,
 *           and do the registry, avsc (what the consumers decode with) and Avro's rules agree on the verdicts?
 * Setup     fast-check generates a change instance (field names, enum symbols, default, the values written);
 *           from it seven kinds of change to the real envelope schema (an extra field at its end): add a field
 *           without a default, remove one, add one with a default, rename with an alias on the new name,
 *           int → long, add an enum symbol (the new producer writes it), the same with a default on the old
 *           enum. Per kind a topic and the consumer-service build the deploy order puts in the mixed window,
 *           started with that reader schema (`envelopeSchemaFile`): producers first → the old build (old
 *           reader), consumers first → the new build. Per level (NONE, BACKWARD, FORWARD, FULL) a subject: the
 *           old schema registered, the level set; the gate (`lab schema check`) run on the new schema; the
 *           registry's check endpoint asked; the new schema registered. The old producer writes one record;
 *           if the gate passed and the registry accepted, the change deploys and the new producer writes one
 *           (each an AccountOpened of its own account, framed with the id the registry gave). A refused change
 *           still met the consumer build of the window: consumers first, the new build was deployed before the
 *           producer's registration was refused (the registry guards producers only; the gate in the
 *           consumers' CI would have stopped it).
 * Fault     The deploy order itself: the mixed window of old and new producers and consumers.
 * Expected  From Avro's rules (the issue: BACKWARD / FORWARD verdicts per kind): a level refuses a change
 *           that breaks the direction(s) it checks (gate exit 1, registration 409: nothing deployed, "refused");
 *           otherwise producers first fails (the record goes to the DLQ as incompatible-schema) where the old
 *           reader cannot read the new data, consumers first where the new reader cannot read the old.
 *           ❌ producers first: under NONE and BACKWARD old consumers break on remove / rename / int → long /
 *              enum symbol (8 of 28 cells); ✅ under FORWARD and FULL (its safe order) no failure.
 *           ❌ consumers first: under NONE and FORWARD the new consumer breaks on the added field without a
 *              default (2 cells); ✅ under BACKWARD and FULL (its safe order) no failure of a deployed change —
 *              but the same change, refused there, broke the new build deployed first ("refused, too late",
 *              2 cells): a refusal at registration comes after a consumers-first deploy.
 *           In every cell the registry's check, its registration, avsc's resolvers and the gate agree with the
 *           rules; a disagreement is a finding, printed with both schemas and the gate's explanation.
 * Numbers   cells, refused, failed (records of deployed changes in the DLQ as incompatible-schema) vs
 *           expectedFailed, refusedTooLate (the old producer's record in the DLQ of a refused change), applied,
 *           safeOrderFailed (failures where the order is the level's safe one), mismatches (observed ≠
 *           expected), disagreements (verdicts ≠ rules). The matrix is in the run report as a table per arm
 *           (change × level → outcome, with the registry's and avsc's verdicts) and in the `[e-006]` lines.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import avro from 'avsc';
import fc from 'fast-check';
import { envelopeHeaders, envelopeSchema, failureHeaders, frame, newEnvelope, type EventEnvelope } from '../src/contract.ts';
import { createArena, type Arena } from './infra/arena.ts';
import { kafka } from './infra/clients.ts';
import { deleteSubject } from './infra/isolation.ts';
import { waitFor } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { atLeast, equals, experiment, type CaseContext } from './kit/index.ts';
import { readTopic, recordCount } from './observe/topic.ts';
import type { Level } from './schema/compatibility.ts';
import { check, RegistryApi } from './schema/gate.ts';

const env = labEnvironment();
const e006 = experiment({ id: 'E-006', title: 'Schema change × deploy order', suite: 'lab/e-006',
  question: 'A schema change passes the registry\'s compatibility level. Which deploy order keeps every consumer reading — producers first or consumers first — for each kind of change and each level, and do the registry, avsc (what the consumers decode with) and Avro\'s rules agree on the verdicts?',
  arena: (label) => createArena(env, `e006_${label}`, 1, { topics: false }) });

type Order = 'producers first' | 'consumers first';
const levels = ['NONE', 'BACKWARD', 'FORWARD', 'FULL'] as const satisfies readonly Level[];
/** Avro's rules as the issue states them: can the new schema read old data (backward), the old read new (forward)? */
const rules = {
  'add field, no default': { backward: false, forward: true },
  'remove field, no default': { backward: true, forward: false },
  'add field with default': { backward: true, forward: true },
  'rename, alias on the new': { backward: true, forward: false },
  'int → long': { backward: true, forward: false },
  'add enum symbol': { backward: true, forward: false },
  'add enum symbol, old default': { backward: true, forward: true },
};
type Kind = keyof typeof rules;
const kinds = Object.keys(rules) as Kind[];
const checks = (level: Level) => ({ backward: level === 'BACKWARD' || level === 'FULL', forward: level === 'FORWARD' || level === 'FULL' });
const accepts = (level: Level, v: { backward: boolean; forward: boolean }) => (!checks(level).backward || v.backward) && (!checks(level).forward || v.forward);
const safe = (level: Level, order: Order) => (order === 'producers first' ? checks(level).forward : checks(level).backward);

/** What fast-check varies: names, symbols, the default and the values the producers write. */
const envelopeFields = new Set((JSON.parse(envelopeSchema()) as { fields: Array<{ name: string }> }).fields.map((f) => f.name));
const fieldName = fc.stringMatching(/^[a-z][a-zA-Z0-9]{2,9}$/).filter((name) => !envelopeFields.has(name));
const changes = fc.record({
  field: fieldName, renamed: fieldName, text: fc.string({ maxLength: 12 }), fallback: fc.string({ maxLength: 6 }), int: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  symbols: fc.uniqueArray(fc.stringMatching(/^[A-Z][A-Z0-9_]{0,7}$/), { minLength: 3, maxLength: 5 }),
}).filter((c) => c.field !== c.renamed);
type Change = typeof changes extends fc.Arbitrary<infer T> ? T : never;
type Extra = { fields: object[]; value: Record<string, unknown> };

/** The old and new extra fields of a kind, and what the old and new producers write in them. */
function change(kind: Kind, c: Change): { old: Extra; new: Extra } {
  const text = { name: c.field, type: 'string' };
  const channel = (symbols: string[], fallback?: boolean) => ({ name: c.field, type: { type: 'enum', name: 'Channel', symbols, ...(fallback ? { default: symbols[0] } : {}) } });
  const [old, added] = [c.symbols.slice(0, -1), c.symbols];
  switch (kind) {
    case 'add field, no default': return { old: { fields: [], value: {} }, new: { fields: [text], value: { [c.field]: c.text } } };
    case 'remove field, no default': return { old: { fields: [text], value: { [c.field]: c.text } }, new: { fields: [], value: {} } };
    case 'add field with default': return { old: { fields: [], value: {} }, new: { fields: [{ ...text, default: c.fallback }], value: { [c.field]: c.text } } };
    case 'rename, alias on the new': return { old: { fields: [text], value: { [c.field]: c.text } }, new: { fields: [{ name: c.renamed, type: 'string', aliases: [c.field] }], value: { [c.renamed]: c.text } } };
    case 'int → long': return { old: { fields: [{ name: c.field, type: 'int' }], value: { [c.field]: c.int } }, new: { fields: [{ name: c.field, type: 'long' }], value: { [c.field]: c.int * 4096 } } };
    case 'add enum symbol': return { old: { fields: [channel(old)], value: { [c.field]: old[0] } }, new: { fields: [channel(added)], value: { [c.field]: added.at(-1) } } };
    case 'add enum symbol, old default': return { old: { fields: [channel(old, true)], value: { [c.field]: old[0] } }, new: { fields: [channel(added, true)], value: { [c.field]: added.at(-1) } } };
  }
}

const withFields = (extra: Extra) => { const s = JSON.parse(envelopeSchema()) as { fields: object[] }; s.fields.push(...extra.fields); return JSON.stringify(s); };
const avroType = (schema: string) => avro.Type.forSchema(JSON.parse(schema) as avro.Schema, { wrapUnions: 'auto' });
const avroValue = (e: EventEnvelope, extra: Extra) => { const { type, ...fields } = e.payload; return { ...e, ...extra.value, payload: { [`lab.wallet.${type}`]: fields } }; };
const resolves = (reader: string, writer: string) => { try { avroType(reader).createResolver(avroType(writer)); return true; } catch { return false; } };
const mark = (ok: boolean | undefined) => (ok === undefined ? '?' : ok ? '✓' : '✗');

interface Cell { kind: Kind; level: Level; deployed: boolean; expected: string; observed: string; registry: boolean | undefined; avsc: boolean; failed: number; expectedFailed: number; applied: number; safe: boolean; disagrees: string[] }

/** One kind under every level in `order`: its topic, the consumer build of the mixed window, the records, the outcomes. */
async function kindCells(arena: Arena, order: Order, kind: Kind, c: Change, log: (line: string) => void): Promise<Cell[]> {
  const { old, new: next } = change(kind, c);
  const [oldSchema, newSchema] = [withFields(old), withFields(next)];
  const slug = kinds.indexOf(kind);
  const { topics } = await arena.topicSet(`k${slug}`, 1, []);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e006-'));
  arena.defer(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const [oldFile, newFile] = [path.join(dir, 'old.avsc'), path.join(dir, 'new.avsc')];
  fs.writeFileSync(oldFile, oldSchema), fs.writeFileSync(newFile, newSchema);
  await arena.start('consumer', { groupId: `${arena.id}.k${slug}`, topics, envelopeSchemaFile: order === 'producers first' ? oldFile : newFile, logLevel: 'error' });
  const registry = new RegistryApi(env.descriptor.schemaRegistry.url);
  const producer = kafka(env, `${arena.id}-k${slug}`).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  arena.defer(() => producer.disconnect());
  const avsc = { backward: resolves(newSchema, oldSchema), forward: resolves(oldSchema, newSchema) };
  const rows: Array<Omit<Cell, 'observed' | 'failed' | 'applied'> & { accounts: string[] }> = [];
  for (const level of levels) {
    const subject = `${topics.events}.${level}-value`;
    arena.defer(() => deleteSubject(env, subject));
    const oldId = (await registry.register(subject, oldSchema)).id!;
    await registry.setLevel(subject, level);
    const said: string[] = [];
    const gate = (await check(registry, [{ subject, file: newFile }], (line) => said.push(line))) === 0; // CI, before either deploy
    const registrySays = await registry.compatible(subject, newSchema);
    const registered = await registry.register(subject, newSchema); // a producer that skipped the gate would try
    // Deployed: old and new producer write. Refused: the old producer writes on, and the running build reads
    // it — for consumers first that is the new build deployed before the producer's registration was refused.
    const deployed = gate && registered.id !== undefined;
    const writes: Array<[number, string, Extra]> = [[oldId, oldSchema, old], ...(deployed ? [[registered.id!, newSchema, next] as [number, string, Extra]] : [])];
    const accounts: string[] = [];
    for (const [id, schema, extra] of writes) {
      const account = `k${slug}-${level}-${accounts.length ? 'new' : 'old'}`;
      const e = newEnvelope({ type: 'AccountOpened', accountId: account, owner: 'e006', currency: 'EUR' }, { id: account, version: 1 });
      await producer.send({ topic: topics.events, acks: -1, messages: [{ key: account, value: frame(id, avroType(schema).toBuffer(avroValue(e, extra))), headers: envelopeHeaders(e) }] });
      accounts.push(account);
    }
    const accepted = accepts(level, rules[kind]);
    const expectedFailed = accepted && !(order === 'producers first' ? rules[kind].forward : rules[kind].backward) ? 1 : 0;
    const verdicts = { registry: registrySays, registration: registered.id !== undefined, avsc: accepts(level, avsc), gate };
    const disagrees = Object.entries(verdicts).filter(([, v]) => v !== accepted).map(([who, v]) => `${who} says ${mark(v)}`);
    if (avsc.backward !== rules[kind].backward || avsc.forward !== rules[kind].forward) disagrees.push(`avsc resolves backward ${mark(avsc.backward)} forward ${mark(avsc.forward)}`);
    if (disagrees.length) log(`finding: ${kind} under ${level}: Avro's rules say ${mark(accepted)}, ${disagrees.join(', ')}\n  old fields: ${JSON.stringify(old.fields)}\n  new fields: ${JSON.stringify(next.fields)}\n  gate: ${said.join('\n  ')}`);
    const unguarded = !accepted && order === 'consumers first' && !rules[kind].backward;
    rows.push({ kind, level, deployed, expected: accepted ? (expectedFailed ? '❌ DLQ' : '✅') : unguarded ? 'refused, too late: ❌ DLQ' : 'refused', registry: registrySays, avsc: verdicts.avsc, expectedFailed, safe: safe(level, order), disagrees, accounts });
  }
  // Every record ends applied (its account in the projection) or in the DLQ: wait for all of them.
  const all = rows.flatMap((row) => row.accounts);
  const appliedNow = async () => new Set((await arena.database.pool.query('SELECT account_id FROM account_balance_view WHERE account_id IN (?)', [all]) as unknown as [Array<{ account_id: string }>])[0].map((r) => r.account_id));
  if (all.length) await waitFor(`${kind}: ${all.length} records applied or parked`, async () => (await appliedNow()).size + (await recordCount(arena.admin, topics.dlq)) >= all.length, { timeoutMs: 60_000 });
  const applied = await appliedNow();
  const parked = await readTopic(env, topics.dlq, { expected: all.length - applied.size, quietMs: 300, timeoutMs: 30_000 });
  const broken = new Set(parked.filter((r) => r.headers[failureHeaders.errorClass] === 'incompatible-schema').map((r) => r.key));
  return rows.map(({ accounts, ...row }) => {
    const failed = accounts.filter((a) => broken.has(a)).length;
    const observed = row.deployed ? (failed ? '❌ DLQ' : '✅') : failed ? 'refused, too late: ❌ DLQ' : 'refused';
    return { ...row, observed, failed, applied: accounts.filter((a) => applied.has(a)).length };
  });
}

/** The whole matrix of one deploy order: every kind (in parallel), every level; numbers and the report's table. */
async function matrix({ arena, input, log, table }: CaseContext<Arena, Change>, order: Order) {
  const cells = (await Promise.all(kinds.map((kind) => kindCells(arena, order, kind, input, log)))).flat();
  const cell = (kind: Kind, level: Level) => cells.find((x) => x.kind === kind && x.level === level)!;
  table({
    title: `${order}: observed outcome (registry's check · avsc) per change and level; the level's safe order marked ◆`,
    columns: ['change', ...levels.map((level) => `${level}${safe(level, order) ? ' ◆' : ''}`)],
    rows: kinds.map((kind) => [kind, ...levels.map((level) => {
      const x = cell(kind, level);
      return `${x.observed}${x.observed === x.expected ? '' : ` (expected ${x.expected})`}\nregistry ${mark(x.registry)} · avsc ${mark(x.avsc)}`;
    })]),
  });
  const sum = (pick: (x: Cell) => number) => cells.reduce((total, x) => total + pick(x), 0);
  return {
    cells: cells.length, refused: sum((x) => Number(!x.deployed)), failed: sum((x) => (x.deployed ? x.failed : 0)), expectedFailed: sum((x) => x.expectedFailed),
    refusedTooLate: sum((x) => (x.deployed ? 0 : x.failed)), applied: sum((x) => x.applied), safeOrderFailed: sum((x) => (x.deployed && x.safe ? x.failed : 0)),
    mismatches: sum((x) => Number(x.observed !== x.expected)), disagreements: sum((x) => Number(x.disagrees.length > 0)),
  };
}

const always = { cells: equals(28), mismatches: equals(0), disagreements: equals(0), safeOrderFailed: equals(0), failed: equals('expectedFailed') };

e006.property('❌ producers first: old consumers break (NONE, BACKWARD); ✅ FORWARD, FULL', {
  label: 'producers', cases: changes, runs: 1, caseTimeoutMs: 240_000,
  expect: { ...always, expectedFailed: equals(8), refusedTooLate: equals(0) }, sometimes: { failed: atLeast(1) },
  run: (context) => matrix(context, 'producers first'),
});

e006.property('❌ consumers first: the new consumer breaks (NONE, FORWARD); ✅ BACKWARD, FULL', {
  label: 'consumers', cases: changes, runs: 1, caseTimeoutMs: 240_000,
  expect: { ...always, expectedFailed: equals(2), refusedTooLate: equals(2) }, sometimes: { failed: atLeast(1) },
  run: (context) => matrix(context, 'consumers first'),
});
