/**
 * E-001 — Outbox + relay + processed_event + invalidation: exactly-once effects end to end.
 *
 * Question  With the patterns in place — transactional outbox, relays that lease shards, consumers that
 *           dedupe in the projection transaction and invalidate the cache after commit — does every
 *           committed command take effect exactly once, even while relays and consumers are SIGKILLed?
 * Setup     command-service (outbox, 2 shards so every relay batch holds several accounts and spans
 *           partitions), query-service (cache-aside over Redis) and a notification gateway in process;
 *           2 outbox relays and 2 consumers (one group) as their own OS processes. A generated workload
 *           (accounts, deposits, withdrawals, transfers, 1–6 concurrent clients), paced over ≥ 12 s so
 *           publishing goes on through the broker fault, while readers poll balances.
 * Fault     A generated schedule: SIGKILL of a relay or consumer at a point in the workload, crash
 *           failpoints at the dangerous places (relay after publish before mark; consumer after the DB
 *           commit before the offset commit; consumer after the commit before the cache update), and in
 *           every case one broker fault: SIGKILL or SIGSTOP, for 8 s, of the current leader of a
 *           generated partition of the events topic (longer than the 6 s broker session, so leadership
 *           moves while relays publish). A keeper restarts every dead service process.
 * Expected  ✅ every committed row on the topic (read back by an independent read_committed consumer),
 *           lost 0 (every committed event applied), applied once, side effect once per event,
 *           per-account order, money conserved, projection = domain, cache = DB after quiescence — and
 *           the schedule's faults really fired: ≥ 1 service death and ≥ 1 leader change per case.
 * Numbers   throughput, command committed → projection applied p50/p99, staleness p99 of live reads,
 *           process deaths, leader changes seen during the workload, redeliveries absorbed. Read the
 *           latencies with the faults in mind: a SIGKILLed consumer keeps its partitions until its group
 *           session times out (6 s here), and a dead leader stalls its partitions until it is fenced, so
 *           p99 and staleness p99 measure failover, not the happy path (`npm run bench` measures that).
 */
import fc from 'fast-check';
import { anomalies, checkLedger } from './checkers/ledger.ts';
import { summarize } from './checkers/index.ts';
import { WalletClient } from './clients/wallet-client.ts';
import { faultScheduleArbitrary, type ScheduledFault } from './generators/faults.ts';
import { workloadArbitrary } from './generators/workload.ts';
import { createArena } from './infra/arena.ts';
import { redis as redisClient } from './infra/clients.ts';
import { deleteKeysWithPrefix } from './infra/isolation.ts';
import { sleep, waitFor } from './infra/ports.ts';
import { redisOf } from './infra/services.ts';
import { labEnvironment } from './infra/vitest.ts';
import { above, equals, experiment, p } from './kit/index.ts';
import { Keeper } from './kit/keeper.ts';
import { Nemesis } from './nemesis/nemesis.ts';
import { readBalances } from './observe/balances.ts';
import { applications, count } from './observe/database.ts';
import { observeLedger } from './observe/ledger.ts';
import { LeaderObserver } from './observe/leaders.ts';
import { caughtUp } from './observe/topic.ts';
import { openAccounts, runLedgerCommands } from './workloads/ledger.ts';
import { startService } from '../src/contract.ts';

const env = labEnvironment();
const roles = ['relay-1', 'relay-2', 'consumer-1', 'consumer-2'] as const;
type Role = (typeof roles)[number];
const faultKinds = ['kill', 'relay.after-publish-before-mark', 'consumer.after-db-commit-before-offset-commit', 'consumer.after-commit-before-invalidate'] as const;
const brokerFaultKinds = ['broker-kill', 'broker-pause'] as const;
type FaultKind = (typeof faultKinds)[number] | (typeof brokerFaultKinds)[number];
/** How long a broker fault lasts: beyond broker.session.timeout.ms (6 s), so the controller fences it. */
const brokerFaultMs = 8000;
/** The workload is paced to last at least this long, so relays are publishing while leadership moves. */
const minWorkloadMs = 12_000;
const outboxShards = 2;

const e001 = experiment({
  id: 'E-001',
  title: 'Exactly-once effects end to end',
  question: 'With the patterns in place — transactional outbox, relays that lease shards, consumers that dedupe in the projection transaction and invalidate the cache after commit — does every committed command take effect exactly once, even while relays and consumers are SIGKILLed?',
  suite: 'lab/e-001',
  arena: async (label) => {
    const arena = await createArena(env, `e001_${label}`, 6);
    const redis = redisClient(env);
    arena.defer(async () => (await deleteKeysWithPrefix(redis, `${arena.id}:`), redis.disconnect()));
    return { ...arena, redis, keyPrefix: `${arena.id}:` };
  },
});

// A failpoint fault goes to a process of its own kind (relay-… or consumer-…), a SIGKILL to any.
const ownTarget = (fault: ScheduledFault<FaultKind>): ScheduledFault<FaultKind> =>
  fault.fault === 'kill' ? fault : { ...fault, target: `${fault.fault.split('.')[0]}-${fault.target.endsWith('1') ? '1' : '2'}` };
// Every case has one broker fault on the leader of a generated partition, between 10% and 50% of the
// (paced) workload, so the 8 s fault ends while commands still flow.
const brokerFault = fc.record({ at: fc.integer({ min: 10, max: 50 }).map((n) => n / 100), fault: fc.constantFrom(...brokerFaultKinds) as fc.Arbitrary<FaultKind>, target: fc.integer({ min: 0, max: 5 }).map(String) });
const schedules = fc
  .tuple(fc.constantFrom(...roles), faultScheduleArbitrary(faultKinds, roles, { minFaults: 1, maxFaults: 3 }), brokerFault)
  // The first fault is always a SIGKILL early in the workload: a schedule that never fires proves
  // nothing. The others come before 80% of the workload, so events still flow past their failpoints.
  .map(([role, rest, broker]) => [{ at: 0.2, fault: 'kill' as FaultKind, target: role }, broker, ...rest.map((f) => ownTarget({ ...f, at: Math.min(f.at, 0.8) }))].sort((a, b) => a.at - b.at));
const verdictNames = ['lost', 'acknowledgedNotApplied', 'appliedTwice', 'notifiedTwice', 'notOnTopic', 'topicOrder', 'applyOrder', 'imbalance', 'projectionMismatch', 'staleCache'] as const;

e001.property('✅ outbox + relay + processed_event + invalidation', {
  label: 'case',
  cases: fc.tuple(workloadArbitrary({ maxAccounts: 6, minCommands: 40, maxCommands: 120, maxConcurrency: 6 }), schedules),
  // A case lasts 40–90 s: a ≥ 12 s paced workload, an 8 s broker fault, a broker restart that recovers
  // every log, drains and checks.
  caseTimeoutMs: 240_000,
  // The schedule's faults fired (a service died, the broker fault moved leadership), and every verdict holds.
  expect: { deaths: above(0), leaderChanges: above(0), ...Object.fromEntries(verdictNames.map((name) => [name, equals(0)])) },
  // Latencies over the events and reads of all cases (pooled); throughput the slowest case's.
  combine: { e2eP50Ms: p(50), e2eP99Ms: p(99), stalenessP99Ms: p(99), throughputOpsPerS: 'min' },
  run: async ({ arena, history, input: [workload, schedule], index, log }) => {
    const { config, id } = arena;
    const nemesis = new Nemesis(env, history);
    const leaders = await LeaderObserver.start(env, config.topics.events);
    const brokerHeals: Array<Promise<void>> = [];
    arena.defer(() => leaders.stop());
    const cache = redisOf(env, arena.keyPrefix);
    const gateway = arena.own(await startService('notification-gateway', {}));
    const command = arena.own(await startService('command', { ...config, mode: 'outbox', outboxShards }));
    const query = arena.own(await startService('query', { mysql: config.mysql, redis: cache, cache: { ttlMs: 60_000, populate: 'set-if-newer' } }));
    const consumerConfig = { groupId: `${id}.projection`, redis: cache, invalidation: 'versioned' as const, cacheTtlMs: 60_000, notificationUrl: gateway.url, sessionTimeoutMs: 6000 };
    const keeper = new Keeper(history, roles, (role) => (role.startsWith('relay') ? arena.start('relay', { relayId: role, batchSize: 20, pollIntervalMs: 10, outboxShards }) : arena.start('consumer', consumerConfig)));
    arena.defer(() => keeper.stopAll());
    arena.defer(async () => (await Promise.allSettled(brokerHeals), await nemesis.heal())); // first on disposal
    await keeper.startAll();

    const client = new WalletClient(command.url, history, { connections: workload.concurrency + 1 });
    const accounts = await openAccounts(client, workload);
    const reader = readBalances(query.url, accounts); // live reads while commands and faults run
    // A broker fault hits the current leader of a partition (`target` = the partition's number) and is
    // healed after brokerFaultMs in the background, so the workload keeps publishing through it.
    const faultBroker = async (fault: ScheduledFault<FaultKind>) => {
      const partitions = leaders.partitions();
      const partition = partitions[Number(fault.target) % partitions.length]!;
      const leader = leaders.current(partition);
      if (leader === undefined || leader < 0) throw new Error(`partition ${partition} of ${config.topics.events} has no leader to fault`);
      const broker = `broker-${leader}` as const;
      await (fault.fault === 'broker-kill' ? nemesis.kill(broker) : nemesis.pause(broker));
      log(`case ${index}: ${fault.fault} ${broker} (leader of partition ${partition}) for ${brokerFaultMs} ms`);
      brokerHeals.push(sleep(brokerFaultMs).then(() => nemesis.healTarget(broker)));
    };
    const faultsAt = schedule.map((fault) => ({ ...fault, index: Math.floor(fault.at * workload.commands.length) }));
    const seconds = await runLedgerCommands(client, workload, {
      minDurationMs: minWorkloadMs,
      beforeCommand: async (at) => {
        for (const fault of faultsAt.filter((f) => f.index === at)) {
          if (fault.fault === 'broker-kill' || fault.fault === 'broker-pause') await faultBroker(fault);
          else if (fault.fault === 'kill') {
            const target = await keeper.alive(fault.target as Role);
            nemesis.record('kill', fault.target);
            await target.kill();
          } else {
            const target = await keeper.alive(fault.target as Role); // arming fails when it just died
            await nemesis.armFailpoint(target.url, fault.fault, 'crash(count=1)').catch((error: unknown) => log(`could not arm ${fault.fault} on ${fault.target}: ${(error as Error).message}`));
          }
        }
      },
    });

    // Quiescence: every broker back, everything committed published and applied. An event that never
    // gets applied (lost, or parked as a version gap) is not a timeout here but a verdict below, with
    // its id, so the wait for applications gives up quietly.
    await Promise.all(brokerHeals);
    const leaderChanges = await leaders.stop();
    const committed = await count(arena.database.pool, 'outbox_event');
    await waitFor('the outbox to drain', async () => (await count(arena.database.pool, 'outbox_event', 'published_at IS NULL')) === 0, { timeoutMs: 90_000 });
    await waitFor('every event applied', async () => (await applications(arena.database.pool)).size >= committed, { timeoutMs: 60_000 }).catch((error: unknown) => log(`case ${index}: ${(error as Error).message}`));
    // …and the consumers' offsets committed: a consumer that died after its commit, before invalidating,
    // leaves the cache to its redelivered duplicate (which invalidates again), not yet processed else.
    await waitFor('the consumers to commit every offset', () => caughtUp(arena.admin, `${id}.projection`, config.topics.events), { timeoutMs: 90_000 });
    const reads = await reader.stop();
    await nemesis.heal();
    await client.close();

    const observed = await observeLedger(env, { database: arena.database, history, eventsTopic: config.topics.events, gatewayUrl: gateway.url, redis: arena.redis, keyPrefix: arena.keyPrefix, accounts, reads });
    const { verdicts, topicDuplicates, stalenessMs } = checkLedger(observed);
    log(`case ${index} schedule: ${schedule.map((f) => `${f.fault}@${f.target}@${f.at}`).join(', ')}`);
    log(`case ${index}: ${workload.commands.length} commands × ${workload.concurrency} clients — ${verdicts.map(summarize).join('; ')}`);
    for (const verdict of verdicts.filter((v) => anomalies(v) > 0)) log(`case ${index} ${verdict.checker}: ${JSON.stringify(verdict.examples)}`);
    return {
      commands: workload.commands.length, events: committed, deaths: keeper.deaths, brokerFaults: schedule.filter((f) => f.fault.startsWith('broker-')).length,
      leaderChanges: leaderChanges.length, topicDuplicates, notificationsSuppressed: observed.notificationsSuppressed, reads: reads.length,
      ...Object.fromEntries(verdictNames.map((name, i) => [name, anomalies(verdicts[i]!)])),
      e2eP50Ms: observed.lagMs, e2eP99Ms: observed.lagMs, stalenessP99Ms: stalenessMs,
      throughputOpsPerS: Math.round(workload.commands.length / seconds),
    };
  },
});
