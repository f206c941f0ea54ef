/**
 * consumer-service: an event that arrives over a gap in its account's versions is never applied silently.
 *
 * Question  When an account's event v arrives but the projection has applied only up to v-2 (v-1 lost
 *           upstream, or still in a retry topic), does the idempotent consumer hold the account — retry,
 *           then park the record in the DLQ with an alarm — instead of applying v over the gap and
 *           leaving projection ≠ domain with lag 0 (what issue 7 observed after a relay lost v111)?
 * Setup     A fresh database; per scenario a topic set (2 partitions, retry delays 200/400/800 ms, so
 *           4 attempts ≈ 1.4 s) and group; events produced by this suite per the pipeline contract.
 * Fault     lost: account g's v3 is never produced (v1, v2, v4, v5 are), next to account h's complete
 *           stream. late: account l's v3 is produced 300 ms after its v4.
 * Expected  lost: g stays at v2 with v1+v2's balance, v4 and v5 in the DLQ as VersionGapError with
 *           version_gaps_total > 0; h fully applied (other accounts are not held). late: v3 then v4
 *           applied, version 4, DLQ empty.
 * Numbers   `[version-gap] …`: gaps detected, DLQ records.
 */
import type { Producer } from 'kafkajs';
import type { RowDataPacket } from 'mysql2';
import { beforeAll, describe, expect, it } from 'vitest';
import { EnvelopeSerde, eventHeaders, failureHeaders, newEnvelope, RegistrySchemaSource, startService, type EventEnvelope } from '../../src/contract.ts';
import { kafka } from '../infra/clients.ts';
import { sleep, waitFor } from '../infra/ports.ts';
import { fileArena, labEnvironment } from '../infra/vitest.ts';
import { readTopic } from '../observe/topic.ts';

const env = labEnvironment();
const report = (line: string) => console.log(`[version-gap] ${line}`);

const arena = fileArena(env, 'gap', 2, { topics: false });
let producer: Producer;

beforeAll(async () => {
  producer = kafka(env, `${arena.id}-test`).producer({ idempotent: true });
  await producer.connect();
  arena.defer(() => producer.disconnect());
});

async function scenario(name: string) {
  const config = await arena.topicSet(name, 2, [200, 400, 800]);
  const serde = new EnvelopeSerde(new RegistrySchemaSource(env.descriptor.schemaRegistry.url), { subject: `${config.topics.events}-value` });
  const service = arena.own(await startService('consumer', { ...config, groupId: `${arena.id}.${name}.projection`, logLevel: 'error' }));
  const produce = async (envelopes: EventEnvelope[]) =>
    producer.send({
      topic: config.topics.events,
      acks: -1,
      messages: await Promise.all(envelopes.map(async (e) => ({ key: e.aggregateId, value: await serde.encode(e), headers: { [eventHeaders.eventId]: e.eventId } }))),
    });
  return { topics: config.topics, service, produce };
}

/** v1 = AccountOpened, then a deposit of `10 × version` per later version. */
function stream(accountId: string, versions: number[]): EventEnvelope[] {
  return versions.map((version) =>
    version === 1
      ? newEnvelope({ type: 'AccountOpened', accountId, owner: accountId, currency: 'EUR' }, { id: accountId, version })
      : newEnvelope({ type: 'FundsDeposited', accountId, amount: 10 * version }, { id: accountId, version }),
  );
}

async function projection(accountId: string): Promise<{ balance: number; version: number } | undefined> {
  const [rows] = await arena.database.pool.query<RowDataPacket[]>('SELECT balance, version FROM account_balance_view WHERE account_id = ?', [accountId]);
  return rows[0] && { balance: Number(rows[0].balance), version: Number(rows[0].version) };
}

describe('consumer-service version gaps', () => {
  it('lost: an event over a missing version is not applied; it and its successors reach the DLQ as VersionGapError', async () => {
    const s = await scenario('lost');
    const [g, h] = [`${arena.id}-g`, `${arena.id}-h`];
    const gEvents = stream(g, [1, 2, 4, 5]); // v3 lost upstream
    await s.produce([...gEvents, ...stream(h, [1, 2, 3, 4])]);

    await waitFor('h applied and g parked', async () => (await projection(h))?.version === 4 && (await s.service.metrics.value('dlq_total')) >= 2, { timeoutMs: 60_000, intervalMs: 100 });
    await sleep(1500); // a wrong apply of g's v4/v5 would have happened by now
    const dead = await readTopic(env, s.topics.dlq, { expected: 2, quietMs: 500, timeoutMs: 30_000 });
    const gaps = await s.service.metrics.value('version_gaps_total');
    report(`lost v3: g = ${JSON.stringify(await projection(g))}, DLQ ${dead.map((r) => `${r.eventId}:${r.headers[failureHeaders.errorClass]}`).join(', ')}, gaps detected ${gaps}`);
    expect(await projection(g)).toEqual({ balance: 20, version: 2 });
    expect(await projection(h)).toEqual({ balance: 20 + 30 + 40, version: 4 });
    expect(dead.map((r) => [r.eventId, r.headers[failureHeaders.errorClass]]).sort()).toEqual(
      [gEvents[2]!, gEvents[3]!].map((e) => [e.eventId, 'VersionGapError']).sort(),
    );
    expect(gaps).toBeGreaterThan(0);
  });

  it('late: an event that arrives after its successor is applied first, then the successor (retried over the gap)', async () => {
    const s = await scenario('late');
    const l = `${arena.id}-l`;
    const [v1, v2, v3, v4] = stream(l, [1, 2, 3, 4]);
    await s.produce([v1!, v2!, v4!]);
    await waitFor('v2 applied', async () => (await projection(l))?.version === 2, { timeoutMs: 60_000, intervalMs: 50 });
    await sleep(300);
    await s.produce([v3!]);
    await waitFor('v4 applied', async () => (await projection(l))?.version === 4, { timeoutMs: 30_000, intervalMs: 50 });
    const gaps = await s.service.metrics.value('version_gaps_total');
    report(`late v3: applied in order after ${gaps} gap detection(s); DLQ ${await s.service.metrics.value('dlq_total')}`);
    expect(await projection(l)).toEqual({ balance: 20 + 30 + 40, version: 4 });
    expect(gaps).toBeGreaterThan(0);
    expect(await s.service.metrics.value('dlq_total')).toBe(0);
  });
});
