/**
 * E-002 — Dual write loses events.
 *
 * Question  A service that commits to MySQL and then produces to Kafka ("dual write") — what happens
 *           when it dies between the two? And does the transactional outbox close the gap?
 * Setup     command-service as its own OS process (so it can really die), deposits sent one at a time
 *           to pre-opened accounts; an independent read_committed consumer reads the topic; direct SQL
 *           reads what the DB committed (ledger entries, one per balance-changing event).
 * Fault     Failpoints that SIGKILL the command-service process:
 *             ❌ direct, commit → produce   crash after the DB commit, before the produce
 *             ❌ direct, produce → commit   crash after the produce, before the DB commit
 *             ✅ outbox                     crashes of the command-service and of the outbox relay at
 *                                          every failpoint, in a generated schedule
 * Expected  ❌ commit→produce: lost (committed, never on the topic) = number of crashes, exactly.
 *           ❌ produce→commit: phantom (on the topic, never committed) = number of crashes, exactly.
 *           ✅ outbox: lost = 0 and phantom = 0 for every schedule; duplicates on the topic are allowed
 *              (the relay re-publishes a batch it could not mark: at-least-once, consumers dedupe).
 * Numbers   crashes (counted from the failpoint log the dying processes write), committed, on topic,
 *           lost, phantom, duplicated. `[e-002] …` lines and the run report.
 */
import fc from 'fast-check';
import { checkDelivery } from './checkers/index.ts';
import { WalletClient } from './clients/wallet-client.ts';
import type { History } from './history/history.ts';
import { createArena, type Arena, type ArenaServiceConfig } from './infra/arena.ts';
import { waitFor } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { atLeast, crashAt, crashSchedule, equals, experiment, Lives, type Crash } from './kit/index.ts';
import { committedEventIds, count } from './observe/database.ts';
import { readTopic } from './observe/topic.ts';
import { eventHeaders } from '../src/contract.ts';

const env = labEnvironment();
const accounts = ['acct-a', 'acct-b', 'acct-c'];
const e002 = experiment({ id: 'E-002', title: 'Dual write loses events', suite: 'lab/e-002', arena: (label) => createArena(env, `e002_${label}`, 3),
  question: 'A service that commits to MySQL and then produces to Kafka ("dual write") — what happens when it dies between the two? And does the transactional outbox close the gap?' });

/**
 * Opens the accounts in a fault-free first life of the command-service (so a scheduled `skip=k` means
 * "die at the (k+1)-th deposit"), then sends deposits one at a time through its crash lives, starting
 * the next life whenever the current one died.
 */
async function depositsThroughCrashes(arena: Arena, history: History, config: ArenaServiceConfig<'command'>, schedule: Crash[], total: number): Promise<void> {
  const start = (failpoints?: string) => arena.start('command', config, failpoints);
  const connect = (url: string) => new WalletClient(url, history, { connections: 1, timeoutMs: 5000 });
  const opener = await start();
  const openClient = connect(opener.url);
  for (const account of accounts) await openClient.open('client', account);
  await openClient.close();
  await opener.stop();
  const lives = new Lives(history, 'command', start, schedule);
  let service = await lives.next();
  let client = connect(service.url);
  for (let i = 0; i < total; i += 1) {
    const result = await client.deposit('client', accounts[i % accounts.length]!, 100 + i, `deposit-${i}`);
    if (result === undefined || !service.isRunning()) {
      await client.close();
      service = await lives.restart(30_000);
      client = connect(service.url);
    }
  }
  await client.close();
}

/** What the DB committed against what an independent read_committed observer found on the topic. */
async function committedVersusTopic(arena: Arena, expectedOnTopic: (committed: number) => number) {
  const committed = await committedEventIds(arena.database.pool);
  const topic = (await readTopic(env, arena.config.topics.events, { expected: expectedOnTopic(committed.length) })).filter((r) => r.headers[eventHeaders.eventType] !== 'AccountOpened');
  const verdict = checkDelivery(committed.map((id) => ({ id, outcome: 'ok' as const })), topic.map((r) => r.eventId!));
  // phantom: on the topic, never committed
  return { committed: committed.length, onTopic: topic.length, lost: verdict.counts.lost!, phantom: verdict.counts.unexpected!, duplicated: verdict.counts.duplicated! };
}

// Crash at the 4th, 7th and 3rd deposit of successive process lives; the last life has no failpoint.
const commitFirst = [3, 6, 2].map((skip) => crashAt('command.after-commit-before-produce', skip));
e002.arm('❌ direct, commit → produce', {
  label: 'commit_first',
  expect: { crashes: equals('scheduled'), lost: equals('crashes'), duplicated: equals(0) },
  run: async ({ arena, history }) => {
    await depositsThroughCrashes(arena, history, { mode: 'direct', directOrder: 'commit-then-produce' }, commitFirst, 30);
    const observed = await committedVersusTopic(arena, (committed) => committed - commitFirst.length);
    return { scheduled: commitFirst.length, crashes: arena.crashes('command.after-commit-before-produce').length, ...observed };
  },
});

const produceFirst = [2, 5].map((skip) => crashAt('command.after-produce-before-commit', skip));
e002.arm('❌ direct, produce → commit', {
  label: 'produce_first',
  expect: { crashes: equals('scheduled'), phantom: equals('crashes'), lost: equals(0) },
  run: async ({ arena, history }) => {
    await depositsThroughCrashes(arena, history, { mode: 'direct', directOrder: 'produce-then-commit' }, produceFirst, 20);
    const observed = await committedVersusTopic(arena, (committed) => committed + produceFirst.length);
    return { scheduled: produceFirst.length, crashes: arena.crashes('command.after-produce-before-commit').length, ...observed };
  },
});

e002.property('✅ outbox', {
  label: 'outbox',
  cases: fc.record({
    command: crashSchedule(['command.before-commit'], { skip: { min: 1, max: 8 }, lives: { max: 2 } }),
    relay: crashSchedule(['relay.before-publish', 'relay.after-publish-before-mark', 'relay.after-mark'], { skip: { max: 2 }, lives: { min: 2, max: 4 } }),
  }),
  // Every scheduled crash happened (a schedule whose faults never fired proves nothing); duplicates on
  // the topic are allowed (at-least-once: the relay re-publishes a batch it could not mark).
  expect: { crashes: equals('scheduled'), lost: equals(0), phantom: equals(0) },
  sometimes: { crashes: atLeast(1) },
  run: async ({ arena, history, input: schedule }) => {
    // The relay dies at the scheduled failpoints, life after life, while the commands flow. Batches of
    // one row make every scheduled crash certain: 27 events give ≥ 27 batches, the schedule needs ≤ 12.
    const relay = new Lives(history, 'relay', (fp) => arena.start('relay', { relayId: 'r', batchSize: 1, pollIntervalMs: 10 }, fp), schedule.relay);
    const relayed = relay.throughAll(120_000);
    relayed.catch(() => undefined); // awaited below; a failed command phase must not leave it unhandled
    await depositsThroughCrashes(arena, history, { mode: 'outbox' }, schedule.command, 24);
    await relayed;
    await waitFor('the outbox to drain', async () => (await count(arena.database.pool, 'outbox_event', 'published_at IS NULL')) === 0, { timeoutMs: 60_000 });
    const observed = await committedVersusTopic(arena, (committed) => committed);
    return { scheduled: schedule.command.length + schedule.relay.length, crashes: arena.crashes().length, ...observed };
  },
});
