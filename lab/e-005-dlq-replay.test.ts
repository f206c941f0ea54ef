/**
 * E-005 — DLQ and controlled replay.
 *
 * Question  Do non-blocking retry topics heal transient failures without ever parking them in the DLQ;
 *           do poison records go to the DLQ with everything an operator needs, without holding up the
 *           good events on their partition; and can the DLQ be replayed under control (dry run, filter,
 *           rate limit, audit) so that replaying the same dead letters twice still applies each event once?
 * Setup     Per generated case a fresh database, topic set (3 partitions; retry topics at 200/400/800 ms,
 *           maxAttempts 4 = the default) and consumer group; the consumer-service (idempotent) and the
 *           replay-worker as their own OS processes. Wallet events are produced straight to the topic per
 *           the pipeline contract, every event of an account on one explicit partition; the accounts are
 *           opened (and applied) before any fault: a retried AccountOpened would make its account's later
 *           events `unknown-account` poison.
 * Fault     ✅ retry topics       failpoint `consumer.apply` armed over HTTP: one record failing 1–3 times
 *                                 in a row (retry-1 … retry-3), then 1–3 consecutive failures at a
 *                                 generated position of the stream.
 *           ✅ poison isolation   a generated mix of every poison kind (lab/clients/poison-producer.ts,
 *                                 a ~1 MiB one too large for the DLQ with its failure headers included)
 *                                 interleaved on the SAME partitions as a paced stream of good deposits,
 *                                 after a baseline phase of the same stream without poison.
 *           ✅ controlled replay  `consumer.apply = error()` until every victim is in the DLQ after
 *                                 maxAttempts, next to poison; then the replay operator (lab/workloads/
 *                                 replay.ts): dry run, the cause fixed, filtered replay, all transient, again.
 * Expected  retry topics: every event applied once, in per-account order, DLQ 0, every scheduled failure
 *             fired, retries = failures + version-gap holds (a later event of an account whose predecessor
 *             is away is held: one more hop, never an apply over missing versions).
 *           poison: every poison record a complete dead letter (lab/checkers/dead-letter.ts) at attempt 1,
 *             the ~1 MiB one a marked prefix with its full size; no retries; every good event applied once.
 *           replay: the victims complete dead letters at attempt maxAttempts; every job does exactly what
 *             was asked (lab/checkers/replay.ts: report, one audit row per record with operator and reason,
 *             the selected records re-published once, at ≤ the limit); the dry run publishes nothing; a
 *             replay of applied events applies nothing more (duplicates skipped = records replayed again).
 * Numbers   retries (per retry topic), DLQ count (per poison kind), good-event latency p50/p99 over all
 *           cases (DB applied_at − send time) without and with poison flowing — numbers, not claims —,
 *           worst replay rate / limit (the worker's measurement; per case also the records' timestamps),
 *           events applied out of per-account order. One `[e-005]` line per case and per arm, run report.
 */
import fc from 'fast-check';
import { checkAppliedOnce, checkDeadLetters, checkPerKeyOrder, checkReplayJob, summarize, type ParkedRecord } from './checkers/index.ts';
import { scrapeMetric, walletEvents } from './clients/event-producer.ts';
import { errorClassOf, poisonKinds, poisonRecord, type PoisonKind } from './clients/poison-producer.ts';
import { recordSender } from './clients/record-sender.ts';
import type { History } from './history/history.ts';
import { createArena, type Arena } from './infra/arena.ts';
import { sleep, waitFor } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { atLeast, atMost, equals, experiment } from './kit/index.ts';
import { pooled } from './kit/pooled.ts';
import { Nemesis } from './nemesis/nemesis.ts';
import { appliedAt, applicationLog, applications, count, projectedBalances, replayAudit, waitApplied } from './observe/database.ts';
import { deadLetters } from './observe/dead-letters.ts';
import { recordCount } from './observe/topic.ts';
import { percentile } from './util/statistics.ts';
import { replayCases, replayOperatorJobs, runReplayJob, type ReplayJob } from './workloads/replay.ts';
import { newEnvelope, type EventEnvelope } from '../src/envelope/index.ts';

const env = labEnvironment();
const [partitions, retryDelaysMs, paceMs] = [3, [200, 400, 800], 10];
const maxAttempts = retryDelaysMs.length + 1; // the consumer's default: one attempt per retry topic, plus the first
const e005 = experiment({ id: 'E-005', title: 'DLQ and controlled replay', suite: 'lab/e-005', arena: (label) => createArena(env, `e005_${label}`, partitions, { retryDelaysMs }) });
const ms = (n: number) => `${Math.round(n)} ms`;
const metrics = async (url: string, ...names: string[]) => Promise.all(names.map((name) => scrapeMetric(url, name)));
const fired = async (url: string) => ((await (await fetch(`${url}/failpoints`)).json()) as Record<string, { fired: number }>)['consumer.apply']?.fired ?? 0;

/** A case's consumer, record sender, nemesis and DLQ observer, with its accounts (account i on partition i mod 3) opened and applied. */
async function setUp(arena: Arena, history: History, accounts: string[]) {
  const [groupId, pool, sender, nemesis] = [`${arena.id}.projection`, arena.database.pool, await recordSender(env, arena.config.topics), new Nemesis(env, history)];
  arena.defer(sender.close);
  arena.defer(() => nemesis.heal());
  const consumer = await arena.start('consumer', { groupId, logLevel: 'error' });
  const openings = walletEvents(accounts, 0);
  for (const e of openings) await sender.sendEvent(accounts.indexOf(e.aggregateId) % partitions, e);
  await waitApplied(pool, openings.map((e) => e.eventId), 'the account openings');
  const versions = new Map(accounts.map((a) => [a, 1]));
  /** Sends an event of account i (the next version) on its partition. */
  const send = async (i: number, payload: (account: string) => EventEnvelope['payload']) => {
    const account = accounts[i % accounts.length]!;
    const e = newEnvelope(payload(account), { id: account, version: versions.set(account, versions.get(account)! + 1).get(account)! });
    return { e, i, ...(await sender.sendEvent(i % accounts.length % partitions, e)) };
  };
  /** The projection's verdict on the openings and `events` (lab/checkers/applied.ts), and its numbers. */
  const applied = async (events: EventEnvelope[]) => {
    const v = checkAppliedOnce([...openings, ...events], await applications(pool), await projectedBalances(pool));
    return { verdict: v, numbers: { lost: v.counts.lost!, unexpected: v.counts.unexpected!, doubleApplied: v.counts.duplicated!, wrongBalances: v.counts.wrongBalance! } };
  };
  return { groupId, pool, sender, nemesis, consumer, send, applied, parked: deadLetters(env, arena.admin, arena.config.topics) };
}
const deposit = (amount: number) => (accountId: string) => ({ type: 'FundsDeposited' as const, accountId, amount });

e005.property('✅ retry topics', {
  label: 'retry',
  // One record failing `repeated` times in a row (< maxAttempts: transient by definition), then `spread` consecutive failures `atPercent` into the stream.
  cases: fc.record({ accounts: fc.integer({ min: 2, max: 5 }), deposits: fc.integer({ min: 3, max: 6 }), repeated: fc.integer({ min: 1, max: maxAttempts - 1 }), spread: fc.integer({ min: 1, max: maxAttempts - 1 }), atPercent: fc.integer({ min: 0, max: 100 }) }),
  expect: {
    firedRepeated: equals('repeated'), firedSpread: equals('spread'), lost: equals(0), unexpected: equals(0), doubleApplied: equals(0), wrongBalances: equals(0),
    dlq: equals(0), dlqTotal: equals(0), retries: equals('failuresAndHolds'), reordered: equals(0),
  },
  sometimes: { fired: atLeast(1), 'retries retry-1': atLeast(1) },
  combine: { healedAfterRepeatsMaxMs: 'max' },
  run: async ({ arena, history, input: s, index, log }) => {
    const accounts = Array.from({ length: s.accounts }, (_, i) => `acct-${i}`);
    const { consumer, nemesis, parked, pool, send, applied } = await setUp(arena, history, accounts);
    await nemesis.armFailpoint(consumer.url, 'consumer.apply', `error(count=${s.repeated})`); // one record alone hops retry-1 … retry-<repeated>
    const single = await send(0, deposit(100));
    await waitApplied(pool, [single.e.eventId], 'the repeatedly failing deposit');
    const healedMs = (await appliedAt(pool, [single.e.eventId])).get(single.e.eventId)! - single.sentAt;
    const firedRepeated = await fired(consumer.url);
    const total = s.accounts * s.deposits - 1;
    // Arming again resets the hit count; every record is hit at least once, so skip + count ≤ records makes all fire.
    const skip = Math.floor((s.atPercent / 100) * (total - s.spread));
    await nemesis.armFailpoint(consumer.url, 'consumer.apply', `error(skip=${skip},count=${s.spread})`);
    const rest = [];
    for (let i = 1; i <= total; i += 1) rest.push((await send(i, deposit(100 + Math.floor(i / s.accounts)))).e);
    await waitApplied(pool, rest.map((e) => e.eventId), 'the deposits');
    const firedSpread = await fired(consumer.url);
    await nemesis.heal();
    await sleep(1000); // quiescence: anything still travelling (a duplicate, a late retry) shows up

    const events = [single.e, ...rest];
    const outcome = await applied(events);
    const versionOf = new Map(events.map((e) => [e.eventId, e.aggregateVersion]));
    const order = checkPerKeyOrder((await applicationLog(pool)).filter((r) => versionOf.has(r.eventId)).map((r) => ({ key: r.key, version: versionOf.get(r.eventId)! })), { startVersion: 2 });
    const [retries, gapHolds, dlqTotal] = (await metrics(consumer.url, 'retries_total', 'version_gaps_total', 'dlq_total')) as [number, number, number];
    const dlq = await parked.count();
    log(`retry case ${index}: ${events.length + accounts.length} events; one deposit failing ${s.repeated}× in a row healed in ${ms(healedMs)}, then ${s.spread} failure(s) from hit ${skip + 1}; retries ${retries} (${gapHolds} version-gap holds), DLQ ${dlq}; ${summarize(outcome.verdict)}`);
    return {
      events: events.length + accounts.length, repeated: s.repeated, spread: s.spread, firedRepeated, firedSpread, fired: firedRepeated + firedSpread, retries, gapHolds, failuresAndHolds: firedRepeated + firedSpread + gapHolds,
      dlq, dlqTotal, ...outcome.numbers, reordered: order.counts.nonmonotonic! + order.counts.skip!, healedAfterRepeatsMaxMs: healedMs,
      ...Object.fromEntries(Object.entries(await parked.retried()).map(([level, n]) => [`retries ${level}`, n])),
    };
  },
});

const latency = (p: number) => pooled((values) => Math.round(percentile(values, p)));
const [p50Baseline, p99Baseline, p50Poison, p99Poison] = [latency(50), latency(99), latency(50), latency(99)];
e005.property('✅ poison isolation', {
  label: 'poison',
  cases: fc.record({
    accounts: fc.integer({ min: 3, max: 6 }),
    good: fc.integer({ min: 30, max: 45 }), // good deposits per phase
    /** Extra poison beyond one of each kind: which kind, next to which account, after which good event. */
    poison: fc.array(fc.record({ kind: fc.constantFrom(...poisonKinds), account: fc.nat(), after: fc.nat() }), { minLength: 5, maxLength: 30 }),
    at: fc.array(fc.nat(), { minLength: poisonKinds.length, maxLength: poisonKinds.length }),
  }),
  expect: { badDeadLetters: equals(0), dlq: equals('poison'), dlqTotal: equals('poison'), retries: equals(0), lost: equals(0), unexpected: equals(0), doubleApplied: equals(0) },
  sometimes: { dlq: atLeast(1) },
  run: async ({ arena, history, input: c, index, log }) => {
    const accounts = Array.from({ length: c.accounts }, (_, i) => `acct-${i}`);
    const { consumer, sender, parked, groupId, pool, send, applied } = await setUp(arena, history, accounts);
    const plan = [...poisonKinds.map((kind, k) => ({ kind, account: k, after: c.at[k]! })), ...c.poison].map((p) => ({ ...p, account: p.account % accounts.length, after: p.after % c.good }));
    const poison: Array<ParkedRecord & { kind: PoisonKind }> = [];
    /** A paced phase of good deposits, and the plan's poison after them (on the same partitions) if `withPoison`. */
    const phase = async (withPoison: boolean) => {
      const good = [];
      for (let i = 0; i < c.good; i += 1) {
        good.push(await send(i, deposit(100 + i)));
        await sleep(paceMs);
        for (const p of withPoison ? plan.filter((q) => q.after === i) : []) {
          const record = await poisonRecord(sender.encode, p.kind, accounts[p.account]!);
          poison.push({ ...record, ...(await sender.send(p.account % partitions, record.key, record.value, record.headers)), errorClass: errorClassOf(p.kind), attempts: 1, truncated: p.kind === 'oversized' });
          await sleep(paceMs);
        }
      }
      await waitApplied(pool, good.map((g) => g.e.eventId), withPoison ? 'the deposits sent among poison' : 'the baseline deposits');
      const times = await appliedAt(pool, good.map((g) => g.e.eventId));
      return { events: good.map((g) => g.e), latencies: good.map((g) => times.get(g.e.eventId)! - g.sentAt) };
    };
    const baseline = await phase(false);
    const fault = history.faultStart('poison', arena.config.topics.events, { records: plan.length });
    const among = await phase(true);
    history.faultEnd(fault);
    await parked.caughtUp(poison.length, 30_000);
    await sleep(500);

    const dlq = await parked.read(poison.length);
    const letters = checkDeadLetters(poison, dlq, { topic: arena.config.topics.events, groupId, checkedAt: Date.now() });
    const [retries, dlqTotal] = (await metrics(consumer.url, 'retries_total', 'dlq_total')) as [number, number];
    const outcome = await applied([...baseline.events, ...among.events]);
    const [base, withPoison] = [baseline.latencies, among.latencies];
    log(`poison case ${index}: ${among.events.length} good deposits among ${poison.length} poison records on ${Math.min(partitions, accounts.length)} partitions; DLQ ${dlq.length}, retries ${retries}; good-event latency p50/p99 baseline ${ms(percentile(base, 50))}/${ms(percentile(base, 99))}, with poison ${ms(percentile(withPoison, 50))}/${ms(percentile(withPoison, 99))}${letters.valid ? '' : `; ${summarize(letters)} ${JSON.stringify(letters.examples)}`}`);
    return {
      good: base.length + withPoison.length, poison: poison.length, dlq: dlq.length, dlqTotal, retries, ...outcome.numbers, badDeadLetters: letters.counts.missing! + letters.counts.incomplete!,
      'latency p50 baseline ms': p50Baseline.add(base), 'latency p99 baseline ms': p99Baseline.add(base), 'latency p50 with poison ms': p50Poison.add(withPoison), 'latency p99 with poison ms': p99Poison.add(withPoison),
      ...Object.fromEntries(poisonKinds.map((kind) => [`DLQ ${kind}`, poison.filter((p) => p.kind === kind).length])),
    };
  },
});

e005.property('✅ controlled replay', {
  label: 'replay',
  cases: replayCases,
  expect: {
    badDeadLetters: equals(0), dlq: equals('parked'), retries: equals('retriesExpected'), appliedBeforeReplay: equals(0), dryRunPublished: equals(0), withdrawalsAppliedEarly: equals(0), badReplayJobs: equals(0),
    'worst rate / limit': atMost(1), auditRows: equals('auditExpected'), lost: equals(0), unexpected: equals(0), doubleApplied: equals(0), wrongBalances: equals(0), duplicatesSkipped: equals('duplicatesExpected'),
  },
  sometimes: { replayed: atLeast(1), duplicatesSkipped: atLeast(1) },
  combine: { 'worst rate / limit': 'max' },
  run: async ({ arena, history, input: c, index, log }) => {
    const accounts = ['acct-0', 'acct-1'];
    const { consumer, sender, nemesis, parked, groupId, pool, send, applied } = await setUp(arena, history, accounts);
    const [worker, topics] = [await arena.start('replay', { logLevel: 'error' }), arena.config.topics];
    const letters: ParkedRecord[] = [];
    // Poison first (business-invalid: amount 0): straight to the DLQ, attempt 1.
    const poison = await Promise.all(Array.from({ length: c.poison }, (_, i) => poisonRecord(sender.encode, 'invalid-amount', accounts[i % 2]!)));
    for (const [i, p] of poison.entries()) letters.push({ ...p, ...(await sender.send(i % 2, p.key, p.value, p.headers)), errorClass: 'invalid-amount', attempts: 1 });
    await parked.caughtUp(c.poison, 30_000);
    // A broken dependency (always failing): every victim spends its maxAttempts and lands in the DLQ.
    await nemesis.armFailpoint(consumer.url, 'consumer.apply', 'error()');
    const victims: EventEnvelope[] = [];
    for (let i = 0; i < c.deposits + c.withdrawals; i += 1) {
      const sent = await send(i, (accountId) => (i < c.deposits ? { type: 'FundsDeposited', accountId, amount: 100 + i } : { type: 'FundsWithdrawn', accountId, amount: 10 + i }));
      letters.push({ ...sent, eventId: sent.e.eventId, key: sent.e.aggregateId, value: await sender.encode(sent.e), errorClass: 'FailpointError', attempts: maxAttempts });
      victims.push(sent.e);
    }
    await parked.caughtUp(letters.length);
    const dlq = await parked.read(letters.length);
    const deadLetterVerdict = checkDeadLetters(letters, dlq, { topic: topics.events, groupId, checkedAt: Date.now() });
    const [retries, dupBefore] = (await metrics(consumer.url, 'retries_total', 'duplicates_skipped_total')) as [number, number];
    const [appliedBefore, eventsBefore] = [await applications(pool), await recordCount(arena.admin, topics.events)];

    const [deposits, withdrawals] = [victims.slice(0, c.deposits), victims.slice(c.deposits)].map((list) => list.map((e) => e.eventId)) as [string[], string[]];
    const jobs = replayOperatorJobs({ deposits, withdrawals, poison: poison.map((p) => p.eventId) }, { operator: 'e005-operator', ratePerSecond: c.limit });
    const skipped = async () => (await scrapeMetric(consumer.url, 'duplicates_skipped_total')) - dupBefore;
    const skippedAtLeast = (n: number, what: string) => waitFor(what, async () => (await skipped()) >= n, { timeoutMs: 30_000 });
    let [dryRunPublished, withdrawalsAppliedEarly] = [0, 0];
    const around: Record<ReplayJob['name'], { before?: () => Promise<void>; after: () => Promise<void> }> = {
      'dry run': { after: async () => void (dryRunPublished = (await recordCount(arena.admin, topics.events)) - eventsBefore) },
      deposits: {
        before: () => nemesis.heal(), // the cause is fixed
        after: async () => {
          await waitApplied(pool, deposits, 'the replayed deposits');
          await sleep(500);
          const now = await applications(pool);
          withdrawalsAppliedEarly = withdrawals.filter((id) => now.has(id)).length; // filtered out: still parked
        },
      },
      'all transient': { after: async () => void (await waitApplied(pool, withdrawals, 'the replayed withdrawals'), await skippedAtLeast(c.deposits, 'the deposits replayed twice to be skipped')) },
      again: { after: async () => void (await skippedAtLeast(c.deposits + victims.length, 'the third replay to be skipped'), await sleep(1000)) },
    };
    const verdicts = [];
    for (const job of jobs) {
      await around[job.name].before?.();
      const report = await runReplayJob(worker.url, job, history);
      await around[job.name].after();
      verdicts.push({ job, report, audit: await replayAudit(pool, report.replayId) });
    }
    const copies = await parked.replayed(eventsBefore + c.deposits + 2 * victims.length);
    const checked = verdicts.map(({ job, report, audit }) => ({ job, report, v: checkReplayJob(job, { report, audit, published: copies.get(report.replayId) ?? [] }) }));
    const outcome = await applied(victims);
    const rates = checked.filter((x) => !x.job.dryRun).map(({ report: r, v }) => `${r.replayed} @ ${c.limit}/s: ${r.ratePerSecond.toFixed(1)} (timestamps ${v.counts.observedRate!.toFixed(1)})`);
    log(`replay case ${index}: ${victims.length} victims (${c.deposits} deposits, ${c.withdrawals} withdrawals) + ${poison.length} poison in the DLQ after ${retries} retries; ${checked.map(({ job, report: r }) => `${job.name} ${r.replayed + r.dryRun}/${r.scanned}`).join(', ')}; rates ${rates.join('; ')}; duplicates skipped ${await skipped()}; ${summarize(outcome.verdict)}`);
    for (const { v } of checked.filter((x) => !x.v.valid)) log(`replay case ${index}: ${summarize(v)} ${JSON.stringify(v.examples)}`);
    return {
      victims: victims.length, poison: poison.length, parked: letters.length, dlq: dlq.length, badDeadLetters: deadLetterVerdict.counts.missing! + deadLetterVerdict.counts.incomplete!,
      retries, retriesExpected: victims.length * (maxAttempts - 1), appliedBeforeReplay: victims.filter((e) => appliedBefore.has(e.eventId)).length, dryRunPublished, withdrawalsAppliedEarly,
      replays: jobs.length, replayed: checked.reduce((n, x) => n + x.report.replayed, 0), badReplayJobs: checked.filter((x) => !x.v.valid).length,
      'worst rate / limit': Number(Math.max(...checked.map((x) => x.v.counts.rateRatio!)).toFixed(3)),
      auditRows: await count(pool, 'replay_audit'), auditExpected: jobs.length * letters.length, ...outcome.numbers, duplicatesSkipped: await skipped(), duplicatesExpected: c.deposits + victims.length,
    };
  },
});
