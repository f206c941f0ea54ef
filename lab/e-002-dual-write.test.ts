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
import { afterEach, describe, expect, it } from 'vitest';
import { checkDelivery, summarize } from './checkers/index.ts';
import { WalletClient } from './clients/wallet-client.ts';
import { assertProperty } from './generators/run.ts';
import { History } from './history/history.ts';
import { type ServiceProcess } from './infra/services.ts';
import { createArena, disposeArenas } from './infra/arena.ts';
import { labEnvironment } from './infra/vitest.ts';
import { waitFor } from './infra/ports.ts';
import { committedEventIds, count } from './observe/database.ts';
import { readTopic } from './observe/topic.ts';
import { recordArm } from './report/results.ts';
import { eventHeaders } from '../src/kafka/headers.ts';

const env = labEnvironment();
const report = (line: string) => console.log(`[e-002] ${line}`);
const accounts = ['acct-a', 'acct-b', 'acct-c'];

afterEach(disposeArenas);

/** A fresh database, topics and failpoint log for one arm (or one generated case). */
const arena = (name: string) => createArena(env, `e002_${name}`, 3);

/**
 * Opens the accounts in a fault-free first life of the service (so a schedule entry `crash(skip=k)`
 * means "die at the (k+1)-th deposit"), then sends deposits one at a time, restarting the service with
 * the next schedule entry whenever it died.
 */
async function depositsThroughCrashes(
  start: (failpoints?: string) => Promise<ServiceProcess>,
  schedule: string[],
  total: number,
  history: History,
): Promise<void> {
  const opener = await start(undefined);
  const openClient = new WalletClient(opener.url, history, { connections: 1, timeoutMs: 5000 });
  for (const account of accounts) await openClient.open('client', account);
  await openClient.close();
  await opener.stop();
  let round = 0;
  let service = await start(schedule[round]);
  let client = new WalletClient(service.url, history, { connections: 1, timeoutMs: 5000 });
  for (let i = 0; i < total; i += 1) {
    const result = await client.deposit('client', accounts[i % accounts.length]!, 100 + i, `deposit-${i}`);
    if (result === undefined || !service.isRunning()) {
      await service.exited();
      await client.close();
      round += 1;
      service = await start(schedule[round]);
      client = new WalletClient(service.url, history, { connections: 1, timeoutMs: 5000 });
    }
  }
  await client.close();
}

describe('E-002 dual write', () => {
  it('❌ direct mode, commit then produce: a crash between them loses exactly one event per crash', async () => {
    const { database, config, crashes, start } = await arena('commit_first');
    const history = new History('E-002 direct commit→produce');
    // Crash at the 4th, 7th and 3rd deposit of successive process lives; the last life has no failpoint.
    const schedule = ['crash(skip=3)', 'crash(skip=6)', 'crash(skip=2)'];
    await depositsThroughCrashes((fp) => start('command', { mode: 'direct', directOrder: 'commit-then-produce' }, fp && `command.after-commit-before-produce=${fp}`), schedule, 30, history);

    const committed = await committedEventIds(database.pool);
    const topic = (await readTopic(env, config.topics.events, { expected: committed.length - schedule.length })).filter((r) => r.headers[eventHeaders.eventType] !== 'AccountOpened');
    const verdict = checkDelivery(committed.map((id) => ({ id, outcome: 'ok' as const })), topic.map((r) => r.eventId!));
    report(`commit→produce: ${summarize(verdict)}; crashes ${crashes().length}`);
    recordArm({
      experiment: 'E-002', title: 'Dual write loses events', arm: '❌ direct, commit → produce',
      expected: 'lost > 0, lost = crashes', observed: `lost ${verdict.counts.lost}, crashes ${crashes().length}`,
      holds: verdict.counts.lost === crashes().length && crashes().length === schedule.length,
      numbers: { crashes: crashes().length, committed: committed.length, onTopic: topic.length, lost: verdict.counts.lost! }, history,
    });
    expect(crashes().map((c) => c.failpoint)).toEqual(schedule.map(() => 'command.after-commit-before-produce'));
    expect(verdict.counts.lost).toBe(schedule.length);
    expect(verdict.counts.duplicated).toBe(0);
  });

  it('❌ direct mode, produce then commit: a crash between them leaves exactly one phantom event per crash', async () => {
    const { database, config, crashes, start } = await arena('produce_first');
    const history = new History('E-002 direct produce→commit');
    const schedule = ['crash(skip=2)', 'crash(skip=5)'];
    await depositsThroughCrashes((fp) => start('command', { mode: 'direct', directOrder: 'produce-then-commit' }, fp && `command.after-produce-before-commit=${fp}`), schedule, 20, history);

    const committed = await committedEventIds(database.pool);
    const topic = (await readTopic(env, config.topics.events, { expected: committed.length + schedule.length })).filter((r) => r.headers[eventHeaders.eventType] !== 'AccountOpened');
    const verdict = checkDelivery(committed.map((id) => ({ id, outcome: 'ok' as const })), topic.map((r) => r.eventId!));
    const phantom = verdict.counts.unexpected!; // on the topic, never committed
    report(`produce→commit: phantom ${phantom}, lost ${verdict.counts.lost}; crashes ${crashes().length}`);
    recordArm({
      experiment: 'E-002', title: 'Dual write loses events', arm: '❌ direct, produce → commit',
      expected: 'phantom > 0, phantom = crashes', observed: `phantom ${phantom}, crashes ${crashes().length}`,
      holds: phantom === crashes().length && crashes().length === schedule.length,
      numbers: { crashes: crashes().length, committed: committed.length, onTopic: topic.length, phantom }, history,
    });
    expect(crashes()).toHaveLength(schedule.length);
    expect(phantom).toBe(schedule.length);
    expect(verdict.counts.lost).toBe(0);
  });

  it('✅ outbox mode: crashes of the command-service and the relay at every failpoint lose nothing', async () => {
    const failpointsOf = {
      command: ['command.before-commit'],
      relay: ['relay.before-publish', 'relay.after-publish-before-mark', 'relay.after-mark'],
    } as const;
    const schedules = fc.record({
      command: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 2 }),
      relay: fc.array(fc.record({ failpoint: fc.constantFrom(...failpointsOf.relay), skip: fc.integer({ min: 0, max: 2 }) }), { minLength: 2, maxLength: 4 }),
    });
    const totals = { cases: 0, crashes: 0, lost: 0, phantom: 0, duplicated: 0, committed: 0 };
    let lastHistory: History | undefined;
    await assertProperty(
      'lab/e-002',
      fc.asyncProperty(schedules, async (schedule) => {
        const { database, config, crashes, start } = await arena(`outbox_${totals.cases}`);
        const history = new History('E-002 outbox');
        lastHistory = history;
        // The relay dies at the scheduled failpoints, life after life, while the commands flow. Batches of
        // one row make every scheduled crash certain: 27 events give ≥ 27 batches, the schedule needs ≤ 12.
        const relayLives = schedule.relay.map(({ failpoint, skip }) => `${failpoint}=crash(skip=${skip})`);
        const relayLoop = (async () => {
          for (const failpoints of [...relayLives, undefined]) {
            const relay = await start('relay', { relayId: 'r', batchSize: 1, pollIntervalMs: 10 }, failpoints);
            if (failpoints === undefined) return relay;
            await relay.exited(120_000);
          }
          return undefined;
        })();
        await depositsThroughCrashes(
          (fp) => start('command', { mode: 'outbox' }, fp && `command.before-commit=${fp}`),
          schedule.command.map((skip) => `crash(skip=${skip})`),
          24,
          history,
        );
        await relayLoop;
        await waitFor('the outbox to drain', async () => (await count(database.pool, 'outbox_event', 'published_at IS NULL')) === 0, { timeoutMs: 60_000 });

        const committed = await committedEventIds(database.pool);
        const topic = (await readTopic(env, config.topics.events, { expected: committed.length })).filter((r) => r.headers[eventHeaders.eventType] !== 'AccountOpened');
        const verdict = checkDelivery(committed.map((id) => ({ id, outcome: 'ok' as const })), topic.map((r) => r.eventId!));
        totals.cases += 1;
        totals.crashes += crashes().length;
        totals.lost += verdict.counts.lost!;
        totals.phantom += verdict.counts.unexpected!;
        totals.duplicated += verdict.counts.duplicated!;
        totals.committed += committed.length;
        // "Sometimes": every scheduled crash really happened (a schedule whose faults never fired proves nothing).
        expect(crashes()).toHaveLength(schedule.command.length + schedule.relay.length);
        expect({ lost: verdict.counts.lost, phantom: verdict.counts.unexpected }).toEqual({ lost: 0, phantom: 0 });
      }),
      2,
    );
    report(`outbox: ${totals.cases} generated schedules, ${totals.crashes} crashes, ${totals.committed} committed, lost ${totals.lost}, phantom ${totals.phantom}, duplicated on topic ${totals.duplicated}`);
    recordArm({
      experiment: 'E-002', title: 'Dual write loses events', arm: '✅ outbox',
      expected: 'lost = 0, phantom = 0 under crashes at every failpoint', observed: `lost ${totals.lost}, phantom ${totals.phantom} over ${totals.crashes} crashes`,
      holds: totals.lost === 0 && totals.phantom === 0 && totals.crashes > 0,
      numbers: totals, ...(lastHistory ? { history: lastHistory } : {}),
    });
    expect(totals.crashes).toBeGreaterThan(0);
  });
});
