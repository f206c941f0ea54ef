/**
 * E-023 — Partial outages degrade gracefully.
 *
 * Question  Redis, Kafka and MySQL each go down, then get slow, in turn, under steady load: does one
 *           dependency take everything with it, and do timeouts, circuit breakers and fallbacks keep the
 *           rest working and lose nothing?
 * Setup     command-service, consumer (with cache invalidation), query-service and (✅) the outbox relay as
 *           their own OS processes (a keeper restarts a consumer or relay that dies); 3 writers (deposits)
 *           and 3 readers (balances), each one request at a time, at most one per 100 ms, client timeout
 *           3 s. Every outage is seen from outside too (a PING, a fresh admin's ListOffsets, a SELECT 1
 *           bounded at 1.5 s): the fault really fired.
 * Fault     in turn, each healed before the next: Redis SIGSTOP (8 s), Redis +1000 ms (Toxiproxy latency),
 *           all three brokers' client links cut (15 s: longer than kafkajs's ≈ 9 s of retries), brokers
 *           +500 ms, MySQL SIGSTOP (8 s), MySQL +300 ms.
 *             ❌ naive: the services as they were — command-service in direct mode (commit, then produce
 *                in the request), query-service and command-service with no timeout on Redis or MySQL.
 *             ✅ guarded: cockatiel timeout + circuit breaker (src/resilience): the query-service's Redis
 *                calls (200 ms, opens after 3, half-open after 1 s; reads fall back to the DB, flagged
 *                `degraded: 'redis-unavailable'`), the command-service's transaction (2 s, opens after 3 lost
 *                connections or timeouts, 503 + Retry-After while open); writes go to the outbox, the relay
 *                retries while Kafka is away, its batch transaction at READ COMMITTED (`batchIsolation`):
 *                at REPEATABLE READ (the relay's default until this experiment) its locking SELECT
 *                gap-locks the shard's pending range for the ≈ 9 s a failing send takes, and the
 *                command-service's outbox INSERTs wait behind it — a first run answered 6 % of writes
 *                while Kafka was cut, the rest timed out. READ COMMITTED is now the default.
 * Expected  ❌ reads hang to the client timeout while Redis is stopped, writes while MySQL is stopped and
 *              while Kafka is cut, and with Kafka cut writes committed to MySQL are never published: lost
 *              (committed, never applied, by plain SQL) > 0 — measured, never assumed. A run: lost 129 = 15
 *              deposits whose produce failed after COMMIT (the client saw a timeout), then 114 acknowledged
 *              ones the consumer parked in the DLQ: each came over the version gap a lost one left.
 *           ✅ no request waits out the client timeout while Redis or MySQL is down; reads answer from the
 *              DB flagged degraded; writes are accepted (≥ 95 %) while Kafka is cut and pile up in the
 *              outbox; MySQL down answers 503 with Retry-After; after recovery lost = 0, every acknowledged
 *              event applied once. Both: all six faults seen from outside.
 * Numbers   per outage (requests of the kind it hits: reads for Redis, writes for Kafka and MySQL):
 *           availability % (2xx of the requests started during the fault), p99 ms (a given-up request
 *           counts with the 3 s it waited), hung (requests that reached the client timeout), recovery ms
 *           (heal → the first success started after it). An `[e-023]` table per arm, all in the report.
 *           Latency numbers are the loaded shared machine's; the claims are the hung / degraded / 503 /
 *           lost counts.
 */
import { outageStats } from './checkers/availability.ts';
import type { History } from './history/history.ts';
import { createArena, type Arena } from './infra/arena.ts';
import { kafka } from './infra/clients.ts';
import { sleep, waitFor } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { above, atLeast, equals, experiment, type Observations } from './kit/index.ts';
import { Keeper } from './kit/keeper.ts';
import { Nemesis } from './nemesis/nemesis.ts';
import { applications, committedEventIds, count, projectedBalances } from './observe/database.ts';
import { deadLetters } from './observe/dead-letters.ts';
import { observeService } from './observe/service.ts';
import { WalletClient } from './clients/wallet-client.ts';
import { deadline } from './util/deadline.ts';
import { startPacedLoad } from './workloads/paced-load.ts';
import type { GuardOptions } from '../src/contract.ts';

const env = labEnvironment();
const accounts = Array.from({ length: 6 }, (_, i) => `acct-${i}`);
const clientTimeoutMs = 3000;
const probeBoundMs = 1500;
const redisGuard: GuardOptions = { mode: 'breaker', timeoutMs: 200, failures: 3, halfOpenAfterMs: 1000 };
const mysqlGuard: GuardOptions = { mode: 'breaker', timeoutMs: 2000, failures: 3, halfOpenAfterMs: 2000 };

type Dependency = 'redis' | 'kafka' | 'mysql';
interface Outage { name: string; dependency: Dependency; f: 'read' | 'deposit'; ms: number; latencyMs?: number }
const outages: Outage[] = [
  { name: 'redis_down', dependency: 'redis', f: 'read', ms: 8000 },
  { name: 'redis_slow', dependency: 'redis', f: 'read', ms: 8000, latencyMs: 1000 },
  { name: 'kafka_down', dependency: 'kafka', f: 'deposit', ms: 15_000 },
  { name: 'kafka_slow', dependency: 'kafka', f: 'deposit', ms: 8000, latencyMs: 500 },
  { name: 'mysql_down', dependency: 'mysql', f: 'deposit', ms: 8000 },
  { name: 'mysql_slow', dependency: 'mysql', f: 'deposit', ms: 8000, latencyMs: 300 },
];
const brokerProxies = () => env.descriptor.kafka.brokers.map((b) => b.proxy ?? `broker-${b.id}`);

async function inject(nemesis: Nemesis, outage: Outage): Promise<void> {
  const { dependency, latencyMs } = outage;
  if (latencyMs === undefined) {
    if (dependency === 'kafka') for (const proxy of brokerProxies()) await nemesis.partition(proxy);
    else await nemesis.pause(dependency);
  } else {
    const proxies = dependency === 'kafka' ? brokerProxies() : [env.descriptor[dependency].proxy ?? dependency];
    for (const proxy of proxies) await nemesis.latency(proxy, latencyMs);
  }
}

/** How long the dependency takes to answer an outside client (bounded: a failure or no answer is the bound). */
async function probe(arena: Arena, dependency: Dependency): Promise<number> {
  const started = performance.now();
  const admin = dependency === 'kafka' ? kafka(env, `${arena.id}-probe`, { retry: { retries: 0 } }).admin() : undefined;
  const work: Promise<unknown> =
    dependency === 'redis'
      ? arena.redis().ping()
      : dependency === 'mysql'
        ? arena.database.pool.query('SELECT 1')
        : admin!.connect().then(() => admin!.fetchTopicOffsets(arena.config.topics.events));
  const ms = await deadline(work, probeBoundMs, () => new Error('no answer')).then(() => performance.now() - started, () => probeBoundMs);
  void admin?.disconnect().catch(() => undefined);
  return Math.round(Math.min(ms, probeBoundMs));
}

const statusOf = (value: unknown) => (value as { status?: number } | undefined)?.status;

async function outagesUnderLoad(arena: Arena, history: History, log: (line: string) => void, guarded: boolean): Promise<Observations> {
  const nemesis = new Nemesis(env, history);
  arena.defer(() => nemesis.heal());
  const consumerConfig = { groupId: `${arena.id}.projection`, redis: arena.redisConfig(), logLevel: 'error' };
  const keeper = new Keeper(history, guarded ? (['consumer', 'relay'] as const) : (['consumer'] as const), (role) =>
    role === 'relay' ? arena.start('relay', { relayId: 'relay', pollIntervalMs: 20, batchIsolation: 'read-committed', logLevel: 'error' }) : arena.start('consumer', consumerConfig),
  );
  await keeper.startAll();
  arena.defer(() => keeper.stopAll());
  const command = await arena.start('command', guarded ? { mode: 'outbox', resilience: { mysql: mysqlGuard }, logLevel: 'error' } : { mode: 'direct', logLevel: 'error' });
  const query = await arena.start('query', { redis: arena.redisConfig(), logLevel: 'error', ...(guarded ? { resilience: { redis: redisGuard } } : {}) });
  const pool = arena.database.pool;
  await arena.redis().ping();
  const opener = new WalletClient(command.url);
  for (const account of accounts) await opener.open('setup', account);
  await opener.close();
  await waitFor('the accounts projected', async () => (await projectedBalances(pool)).size === accounts.length, { timeoutMs: 60_000 });

  const load = startPacedLoad(history, { commandUrl: command.url, queryUrl: query.url, accounts, writers: 3, readers: 3, periodMs: 100, timeoutMs: clientTimeoutMs });
  const numbers: Record<string, number> = {};
  let faultsSeen = 0;
  try {
    await waitFor('the load running', async () => history.operations().filter((op) => op.type === 'ok' && op.f === 'read').length >= 10, { timeoutMs: 30_000 });
    for (const outage of outages) {
      const start = history.now();
      await inject(nemesis, outage);
      // The window is on once an outside client sees the fault (a signal takes effect asynchronously).
      let probeMs = 0;
      for (let attempt = 0; attempt < 3 && probeMs < (outage.latencyMs ?? probeBoundMs); attempt += 1) probeMs = await probe(arena, outage.dependency);
      if (probeMs >= (outage.latencyMs ?? probeBoundMs)) faultsSeen += 1;
      await sleep(Math.max(0, outage.ms - (history.now() - start)));
      if (outage.name === 'kafka_down' && guarded) numbers.kafka_down_outbox_backlog = await count(pool, 'outbox_event', 'published_at IS NULL');
      if (outage.name === 'mysql_down' && guarded) {
        const response = await fetch(`${command.url}/accounts/${accounts[0]}/deposits`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': `probe-${arena.id}` }, body: '{"amount":1}', signal: AbortSignal.timeout(clientTimeoutMs) });
        numbers.mysql_down_retry_after_s = response.status === 503 ? Number(response.headers.get('retry-after') ?? 0) : 0;
      }
      await nemesis.heal();
      const end = history.now();
      await waitFor(`a ${outage.f} to succeed after ${outage.name}`, async () => history.operations().some((op) => op.f === outage.f && op.type === 'ok' && op.start >= end), { timeoutMs: 60_000 });
      const stats = outageStats(history.operations(), { start, end }, { f: outage.f, clientTimeoutMs });
      const during = history.operations().filter((op) => op.f === outage.f && op.start >= start && op.start < end);
      Object.assign(numbers, {
        [`${outage.name}_avail_pct`]: stats.availabilityPct,
        [`${outage.name}_p99_ms`]: stats.p99Ms,
        [`${outage.name}_hung`]: stats.timeouts,
        [`${outage.name}_recovery_ms`]: stats.recoveryMs,
        [`${outage.name}_probe_ms`]: probeMs,
      });
      if (outage.name === 'redis_down') numbers.redis_down_degraded = during.filter((op) => (op.value as { degraded?: string } | undefined)?.degraded === 'redis-unavailable').length;
      if (outage.name === 'mysql_down') numbers.mysql_down_503 = during.filter((op) => statusOf(op.value) === 503).length;
      log(`${outage.name.padEnd(10)} ${String(stats.requests).padStart(4)} ${outage.f === 'read' ? 'reads ' : 'writes'}  availability ${String(stats.availabilityPct).padStart(5)} %  p99 ${String(stats.p99Ms).padStart(5)} ms  hung ${String(stats.timeouts).padStart(3)}  recovery ${String(stats.recoveryMs).padStart(5)} ms  (outside probe ${probeMs} ms)`);
      await sleep(1000); // the next outage starts on a settled system, not on the tail of this one's recovery
    }
  } finally {
    await load.stop();
  }

  // Quiescence, then the truth by plain SQL: what was acknowledged and committed against what was applied.
  const acknowledged = history.operations().filter((op) => op.f === 'deposit' && op.type === 'ok').flatMap((op) => (op.value as { eventIds: string[] }).eventIds);
  if (guarded) await waitFor('the outbox drained', async () => (await count(pool, 'outbox_event', 'published_at IS NULL')) === 0, { timeoutMs: 120_000 });
  // An event over a version gap (its predecessor committed, never published) goes through the retry
  // topics to the DLQ: done when every acknowledged event is applied or parked there.
  const dlq = deadLetters(env, arena.admin, arena.config.topics);
  let parked = new Set<string>();
  await waitFor('every acknowledged event applied or dead-lettered', async () => {
    const applied = await applications(pool);
    const missing = acknowledged.filter((id) => !applied.has(id));
    if (missing.length > 0) parked = new Set((await dlq.read(await dlq.count())).map((r) => r.eventId!));
    return missing.every((id) => parked.has(id));
  }, { timeoutMs: 120_000, intervalMs: 2000 });
  await waitFor('the consumer caught up', async () => (await observeService(await keeper.alive('consumer')).metric('consumer_lag')) === 0, { timeoutMs: 60_000 });
  const applied = await applications(pool);
  const committed = await committedEventIds(pool);
  Object.assign(numbers, {
    faults_seen: faultsSeen,
    acknowledged: acknowledged.length,
    committed: committed.length,
    lost: committed.filter((id) => !applied.has(id)).length,
    acknowledged_lost: acknowledged.filter((id) => !applied.has(id)).length,
    applied_twice: [...applied.values()].filter((n) => n > 1).length,
    dead_lettered: parked.size,
    service_deaths: keeper.deaths,
  });
  log(`acknowledged ${numbers.acknowledged}, committed ${numbers.committed}, lost (committed, never applied) ${numbers.lost}, acknowledged lost ${numbers.acknowledged_lost} (dead-lettered over a version gap ${parked.size}), applied twice ${numbers.applied_twice}, consumer/relay deaths ${keeper.deaths}`);
  return numbers;
}

const e023 = experiment({
  id: 'E-023',
  title: 'Partial outages degrade gracefully',
  question: 'Redis, Kafka and MySQL each go down, then get slow, in turn, under steady load: does one dependency take everything with it, and do timeouts, circuit breakers and fallbacks keep the rest working and lose nothing?',
  setup: 'command-service, consumer, query-service (and the relay) as processes; 3 writers and 3 readers, client timeout 3 s',
  fault: 'Redis SIGSTOP, Redis +1 s, Kafka links cut, Kafka +500 ms, MySQL SIGSTOP, MySQL +300 ms, in turn',
  suite: 'lab/e-023',
  arena: (label) => createArena(env, `e023_${label}`, 3),
});

e023.arm('❌ naive services', {
  label: 'naive',
  caseTimeoutMs: 360_000,
  expect: { faults_seen: equals(outages.length), redis_down_hung: above(0), kafka_down_hung: above(0), mysql_down_hung: above(0), lost: above(0) },
  run: ({ arena, history, log }) => outagesUnderLoad(arena, history, log, false),
});

e023.arm('✅ timeouts, breakers, fallbacks', {
  label: 'guarded',
  caseTimeoutMs: 360_000,
  expect: {
    faults_seen: equals(outages.length),
    redis_down_hung: equals(0),
    redis_down_degraded: above(0),
    kafka_down_avail_pct: atLeast(95),
    kafka_down_outbox_backlog: above(0),
    mysql_down_hung: equals(0),
    mysql_down_503: above(0),
    mysql_down_retry_after_s: atLeast(1),
    lost: equals(0),
    acknowledged_lost: equals(0),
    applied_twice: equals(0),
  },
  run: ({ arena, history, log }) => outagesUnderLoad(arena, history, log, true),
});
