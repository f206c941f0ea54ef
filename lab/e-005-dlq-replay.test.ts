/**
 * E-005 — DLQ and controlled replay.
 *
 * Question  Do non-blocking retry topics heal transient failures without ever parking them in the DLQ; do
 *           poison records go to the DLQ with everything an operator needs, without holding up the good
 *           events on their partition; and can the DLQ be replayed under control (dry run, filter, rate
 *           limit, audit) so that replaying the same dead letters twice still applies each event once?
 * Setup     Per generated case a fresh database, topic set (3 partitions; retry topics at 200/400/800 ms,
 *           maxAttempts 4) and consumer group; the consumer-service (idempotent) and the replay-worker as
 *           OS processes. Wallet events produced straight to the topic per the pipeline contract, account i
 *           on partition i mod 3, the accounts opened and applied before any fault.
 * Fault     ✅ retry topics       `consumer.apply` failpoint: one record failing 1–3 times in a row (retry-1
 *                                 … retry-3), then 1–3 consecutive failures at a generated stream position.
 *           ✅ poison isolation   every poison kind (lab/clients/poison-producer.ts, ~1 MiB one included)
 *                                 in a generated mix, on the SAME partitions as a paced stream of good
 *                                 deposits (lab/workloads/poison-stream.ts), after a baseline without poison.
 *           ✅ controlled replay  `consumer.apply = error()` until every victim is in the DLQ, next to poison;
 *                                 then the replay operator (lab/workloads/replay.ts): dry run, the fix,
 *                                 filtered replay, every transient failure, the same again.
 * Expected  retry topics: every event applied once, in per-account order, DLQ 0, every scheduled failure
 *             fired, retries = failures + version-gap holds (a later event of an account whose predecessor
 *             is away is held: one more hop, never an apply over missing versions).
 *           poison: every poison record a complete dead letter (lab/checkers/dead-letter.ts) at attempt 1,
 *             the ~1 MiB one a marked prefix with its full size; no retries; every good event applied once.
 *           replay: the victims complete dead letters at attempt maxAttempts; every job exactly as asked
 *             (lab/checkers/replay.ts: report, audit rows with operator and reason, the selected records
 *             re-published once at ≤ the limit); the dry run publishes nothing; replaying applied events
 *             applies nothing more (duplicates skipped = records replayed again).
 * Numbers   retries (per retry topic), DLQ count (per poison kind), good-event latency p50/p99 over all
 *           cases without and with poison flowing (numbers, not claims), worst replay rate / limit, events
 *           applied out of per-account order; one `[e-005]` line per case and per arm, run report.
 */
import fc from 'fast-check';
import { checkAppliedOnce, checkDeadLetters, checkPerKeyOrder, checkReplayJob, summarize } from './checkers/index.ts';
import { poisonKinds } from './clients/poison-producer.ts';
import { accountStream, recordSender } from './clients/record-sender.ts';
import type { History } from './history/history.ts';
import { createArena, type Arena } from './infra/arena.ts';
import { sleep, waitFor } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { atLeast, atMost, equals, experiment, p } from './kit/index.ts';
import { Nemesis } from './nemesis/nemesis.ts';
import { appliedAt, applicationLog, applications, count, projectedBalances, replayAudit, waitApplied } from './observe/database.ts';
import { deadLetters } from './observe/dead-letters.ts';
import { recordCount } from './observe/topic.ts';
import { observeService } from './observe/service.ts';
import { percentile } from './util/statistics.ts';
import { pacedPhase, poisonPlan, poisonStreamCases } from './workloads/poison-stream.ts';
import { parkOutage, replayCases, replayedIds, replayOperatorJobs, runReplayJob } from './workloads/replay.ts';
import type { EventEnvelope } from '../src/contract.ts';

const env = labEnvironment();
const [partitions, retryDelaysMs] = [3, [200, 400, 800]];
const maxAttempts = retryDelaysMs.length + 1; // the consumer's default: one attempt per retry topic, plus the first
const e005 = experiment({
  id: 'E-005', title: 'DLQ and controlled replay', suite: 'lab/e-005', arena: (label) => createArena(env, `e005_${label}`, partitions, { retryDelaysMs }),
  question: 'Do non-blocking retry topics heal transient failures without ever parking them in the DLQ; do poison records go to the DLQ with everything an operator needs, without holding up the good events on their partition; and can the DLQ be replayed under control (dry run, filter, rate limit, audit) so that replaying the same dead letters twice still applies each event once?',
});
const ms = (n: number) => `${Math.round(n)} ms`;
const deposit = (amount: number) => (accountId: string) => ({ type: 'FundsDeposited' as const, accountId, amount });
const metrics = async (url: string, ...names: string[]) => Promise.all(names.map((name) => observeService(url).metric(name)));
const fired = async (url: string) => observeService(url).fired('consumer.apply');

/** A case's consumer, nemesis, DLQ observer and account stream (account i on partition i mod 3), the accounts opened and applied. */
async function setUp(arena: Arena, history: History, accounts: string[]) {
  const [groupId, pool, nemesis] = [`${arena.id}.projection`, arena.database.pool, new Nemesis(env, history)];
  const stream = accountStream(await recordSender(env, arena.config.topics), accounts, partitions);
  [stream.sender.close, () => nemesis.heal()].forEach((cleanup) => arena.defer(cleanup));
  const consumer = await arena.start('consumer', { groupId, logLevel: 'error' });
  await stream.open();
  await waitApplied(pool, stream.openings.map((e) => e.eventId), 'the account openings');
  /** The projection's verdict on the openings and `events` (lab/checkers/applied.ts), and its numbers. */
  const applied = async (events: EventEnvelope[]) => {
    const v = checkAppliedOnce([...stream.openings, ...events], await applications(pool), await projectedBalances(pool));
    return { verdict: v, numbers: { lost: v.counts.lost!, unexpected: v.counts.unexpected!, doubleApplied: v.counts.duplicated!, wrongBalances: v.counts.wrongBalance! } };
  };
  return { groupId, pool, nemesis, consumer, stream, send: stream.send, applied, parked: deadLetters(env, arena.admin, arena.config.topics) };
}

e005.property('✅ retry topics', {
  label: 'retry',
  // One record failing `repeated` times in a row (< maxAttempts: transient by definition), then `spread` consecutive failures `atPercent` into the stream.
  cases: fc.record({ accounts: fc.integer({ min: 2, max: 5 }), deposits: fc.integer({ min: 3, max: 6 }), repeated: fc.integer({ min: 1, max: maxAttempts - 1 }), spread: fc.integer({ min: 1, max: maxAttempts - 1 }), atPercent: fc.integer({ min: 0, max: 100 }) }),
  expect: { firedRepeated: equals('repeated'), firedSpread: equals('spread'), lost: equals(0), unexpected: equals(0), doubleApplied: equals(0), wrongBalances: equals(0),
    dlq: equals(0), dlqTotal: equals(0), retries: equals('failuresAndHolds'), reordered: equals(0) },
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
    const [retries, gapHolds, dlqTotal, dlq] = [...(await metrics(consumer.url, 'retries_total', 'version_gaps_total', 'dlq_total')), await parked.count()] as [number, number, number, number];
    log(`retry case ${index}: ${events.length + accounts.length} events; one deposit failing ${s.repeated}× in a row healed in ${ms(healedMs)}, then ${s.spread} failure(s) from hit ${skip + 1}; retries ${retries} (${gapHolds} version-gap holds), DLQ ${dlq}; ${summarize(outcome.verdict)}`);
    return {
      events: events.length + accounts.length, repeated: s.repeated, spread: s.spread, firedRepeated, firedSpread, fired: firedRepeated + firedSpread, retries, gapHolds, failuresAndHolds: firedRepeated + firedSpread + gapHolds,
      dlq, dlqTotal, ...outcome.numbers, reordered: order.counts.nonmonotonic! + order.counts.skip!, healedAfterRepeatsMaxMs: healedMs,
      ...Object.fromEntries(Object.entries(await parked.retried()).map(([level, n]) => [`retries ${level}`, n])),
    };
  },
});

e005.property('✅ poison isolation', {
  label: 'poison',
  cases: poisonStreamCases,
  expect: { badDeadLetters: equals(0), dlq: equals('poison'), dlqTotal: equals('poison'), retries: equals(0), lost: equals(0), unexpected: equals(0), doubleApplied: equals(0) },
  sometimes: { dlq: atLeast(1) },
  // Over the good events of all cases, not one case's: a p99 of a few dozen latencies is their maximum.
  combine: { 'latency p50 baseline ms': p(50), 'latency p99 baseline ms': p(99), 'latency p50 with poison ms': p(50), 'latency p99 with poison ms': p(99) },
  run: async ({ arena, history, input: c, index, log }) => {
    const accounts = Array.from({ length: c.accounts }, (_, i) => `acct-${i}`);
    const { consumer, stream, parked, groupId, pool, applied } = await setUp(arena, history, accounts);
    const baseline = await pacedPhase(stream, pool, c.good);
    const plan = poisonPlan(c);
    const fault = history.faultStart('poison', arena.config.topics.events, { records: plan.length });
    const among = await pacedPhase(stream, pool, c.good, plan);
    const [base, withPoison, poison] = [baseline.latencies, among.latencies, among.poison];
    history.faultEnd(fault);
    await parked.caughtUp(poison.length, 30_000);
    await sleep(500);
    const dlq = await parked.read(poison.length);
    const letters = checkDeadLetters(poison, dlq, { topic: arena.config.topics.events, groupId, checkedAt: Date.now() });
    const [retries, dlqTotal] = (await metrics(consumer.url, 'retries_total', 'dlq_total')) as [number, number];
    const outcome = await applied([...baseline.events, ...among.events]);
    log(`poison case ${index}: ${among.events.length} good deposits among ${poison.length} poison records on ${Math.min(partitions, accounts.length)} partitions; DLQ ${dlq.length}, retries ${retries}; good-event latency p50/p99 baseline ${ms(percentile(base, 50))}/${ms(percentile(base, 99))}, with poison ${ms(percentile(withPoison, 50))}/${ms(percentile(withPoison, 99))}${letters.valid ? '' : `; ${summarize(letters)} ${JSON.stringify(letters.examples)}`}`);
    return {
      good: base.length + withPoison.length, poison: poison.length, dlq: dlq.length, dlqTotal, retries, ...outcome.numbers, badDeadLetters: letters.counts.missing! + letters.counts.incomplete!,
      'latency p50 baseline ms': base, 'latency p99 baseline ms': base, 'latency p50 with poison ms': withPoison, 'latency p99 with poison ms': withPoison,
      ...Object.fromEntries(poisonKinds.map((kind) => [`DLQ ${kind}`, poison.filter((p) => p.kind === kind).length])),
    };
  },
});

e005.property('✅ controlled replay', {
  label: 'replay',
  cases: replayCases,
  expect: { badDeadLetters: equals(0), dlq: equals('parked'), retries: equals('retriesExpected'), appliedBeforeReplay: equals(0), dryRunPublished: equals(0), withdrawalsAppliedEarly: equals(0), badReplayJobs: equals(0),
    'worst rate / limit': atMost(1), auditRows: equals('auditExpected'), lost: equals(0), unexpected: equals(0), doubleApplied: equals(0), wrongBalances: equals(0), duplicatesSkipped: equals('duplicatesExpected') },
  sometimes: { replayed: atLeast(1), duplicatesSkipped: atLeast(1) },
  combine: { 'worst rate / limit': 'max' },
  run: async ({ arena, history, input: c, index, log }) => {
    const { consumer, stream, nemesis, parked, groupId, pool, applied } = await setUp(arena, history, ['acct-0', 'acct-1']);
    const [worker, topics] = [await arena.start('replay', { logLevel: 'error' }), arena.config.topics];
    // Poison (business-invalid) straight to the DLQ; then a broken dependency: every victim spends its maxAttempts and lands there too.
    const breakDependency = async () => (await parked.caughtUp(c.poison, 30_000), await nemesis.armFailpoint(consumer.url, 'consumer.apply', 'error()'));
    const { parked: letters, victims, letters: kinds } = await parkOutage(stream, c, { maxAttempts, breakDependency });
    await parked.caughtUp(letters.length);
    const dlq = await parked.read(letters.length);
    const deadLetterVerdict = checkDeadLetters(letters, dlq, { topic: topics.events, groupId, checkedAt: Date.now() });
    const [retries, dupBefore] = (await metrics(consumer.url, 'retries_total', 'duplicates_skipped_total')) as [number, number];
    const appliedOf = async (ids: string[]) => ((applied) => ids.filter((id) => applied.has(id)).length)(await applications(pool));
    const [appliedBeforeReplay, eventsBefore] = [await appliedOf(victims.map((e) => e.eventId)), await recordCount(arena.admin, topics.events)];
    const jobs = replayOperatorJobs(kinds, { operator: 'e005-operator', ratePerSecond: c.limit });
    const skipped = async () => (await observeService(consumer).metric('duplicates_skipped_total')) - dupBefore;
    let [dryRunPublished, withdrawalsAppliedEarly] = [0, 0];
    const done = [];
    for (const job of jobs) {
      if (job.name === 'deposits') await nemesis.heal(); // the cause is fixed: from here on a replay can apply
      const report = await runReplayJob(worker.url, job, history);
      if (job.dryRun) dryRunPublished = (await recordCount(arena.admin, topics.events)) - eventsBefore;
      else {
        await waitApplied(pool, replayedIds(job), `the records of replay "${job.name}"`);
        await waitFor(`the repeats of replay "${job.name}" to be skipped`, async () => (await skipped()) >= job.repeats, { timeoutMs: 30_000 });
        await sleep(1000); // quiescence: a wrongly applied copy (or a filtered record) would show up now
      }
      if (job.name === 'deposits') withdrawalsAppliedEarly = await appliedOf(kinds.withdrawals); // filtered out: still parked
      done.push({ job, report, audit: await replayAudit(pool, report.replayId) });
    }
    const copies = await parked.replayed(eventsBefore + c.deposits + 2 * victims.length);
    const checked = done.map(({ job, report, audit }) => ({ job, report, v: checkReplayJob(job, { report, audit, published: copies.get(report.replayId) ?? [] }) }));
    const outcome = await applied(victims);
    log(`replay case ${index}: ${victims.length} victims (${c.deposits} deposits, ${c.withdrawals} withdrawals) + ${c.poison} poison in the DLQ after ${retries} retries; ${checked.map(({ job, report: r }) => `${job.name} ${r.replayed + r.dryRun}/${r.scanned}`).join(', ')}; rates ${checked.filter((x) => !x.job.dryRun).map(({ report: r, v }) => `${r.replayed} @ ${c.limit}/s: ${r.ratePerSecond.toFixed(1)} (timestamps ${v.counts.observedRate!.toFixed(1)})`).join('; ')}; duplicates skipped ${await skipped()}; ${summarize(outcome.verdict)}`);
    for (const { v } of checked.filter((x) => !x.v.valid)) log(`replay case ${index}: ${summarize(v)} ${JSON.stringify(v.examples)}`);
    return {
      victims: victims.length, poison: c.poison, parked: letters.length, dlq: dlq.length, badDeadLetters: deadLetterVerdict.counts.missing! + deadLetterVerdict.counts.incomplete!,
      retries, retriesExpected: victims.length * (maxAttempts - 1), appliedBeforeReplay, dryRunPublished, withdrawalsAppliedEarly,
      replays: jobs.length, replayed: checked.reduce((n, x) => n + x.report.replayed, 0), badReplayJobs: checked.filter((x) => !x.v.valid).length,
      'worst rate / limit': Number(Math.max(...checked.map((x) => x.v.counts.rateRatio!)).toFixed(3)),
      auditRows: await count(pool, 'replay_audit'), auditExpected: jobs.length * letters.length, ...outcome.numbers, duplicatesSkipped: await skipped(), duplicatesExpected: jobs.at(-1)!.repeats,
    };
  },
});
