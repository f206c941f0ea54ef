/**
 * Why the services publish single records through RenewingProducer (src/kafka/renewing-producer.ts), on the
 * real cluster: a send that fails after the leader appended it. Choreography: one partition, replicas
 * [1, 2, 3], leader 1, min.insync.replicas 2; replication from 1 cut, so the send waits for followers that
 * never fetch; after replica.lag.time.max.ms (3 s) the ISR shrinks to {1} and the waiting send fails
 * (NOT_ENOUGH_REPLICAS_AFTER_APPEND, then NOT_ENOUGH_REPLICAS on kafkajs's retries) — while its record is on
 * the leader's log. The cut healed and the ISR full again, the next record is sent:
 *   - through the same kafkajs producer (what the replay-worker did: mark the failed record, go on): it is
 *     acknowledged, yet not on the log — kafkajs took back the failed send's sequence number and the
 *     leader took the next record for a retry of the appended one (as E-009's third arm).
 *   - through RenewingProducer: a new producer (new id) sends it, and it is on the log.
 * The log is read back by a fresh consumer (lab/observe/topic.ts), not by the producer under test.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { createTopicsAndWait, RenewingProducer } from '../../src/contract.ts';
import { createKafkaArena } from '../infra/arena.ts';
import { kafka } from '../infra/clients.ts';
import { waitFor } from '../infra/ports.ts';
import { labEnvironment } from '../infra/vitest.ts';
import { Nemesis } from '../nemesis/nemesis.ts';
import { readTopic } from '../observe/topic.ts';

const env = labEnvironment({ kafka: { replicationLinks: true, cluster: { 'replica.lag.time.max.ms': '3000' } } });
const arena = await createKafkaArena(env, 'renewing');
const nemesis = new Nemesis(env);
afterAll(async () => {
  await nemesis.heal();
  await arena.dispose();
});

// Few quick retries: the send must give up while the ISR is {1} (the services' clients retry longer, and
// fail the same way once the ISR stays short longer than that).
const newProducer = (name: string): Producer => kafka(env, `${arena.id}-${name}`).producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 } });

/** A topic of one partition led by broker 1, the failed send and the next one; what the log holds. */
async function failThenSend(name: string, send: (value: string) => Promise<unknown>) {
  const topic = `${arena.id}.${name}`;
  await createTopicsAndWait(arena.admin, [{ topic, replicaAssignment: [{ partition: 0, replicas: [1, 2, 3] }], configEntries: [{ name: 'min.insync.replicas', value: '2' }] }]);
  const isr = async () => (await arena.admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions[0]!;
  await waitFor(`${topic}: leader 1, ISR full`, async () => { const p = await isr(); return p.leader === 1 && p.isr.length === 3; }, { timeoutMs: 60_000 });
  await send('warm-up');
  await nemesis.cutReplication({ from: 1 });
  const failed = await send('failed').then(() => undefined, (error: unknown) => error as Error);
  const shrunk = (await isr()).isr.length;
  await nemesis.heal();
  await waitFor(`${topic}: ISR full again`, async () => (await isr()).isr.length === 3, { timeoutMs: 60_000 });
  await send('next'); // resolves: acknowledged
  const log = (await readTopic(env, topic, { expected: 3, quietMs: 1000, timeoutMs: 30_000 })).map((r) => r.value?.toString());
  return { failed, shrunk, log };
}

describe('a send that failed after the leader appended it', () => {
  it('the same kafkajs producer then acknowledges the next record without writing it', async () => {
    const producer = newProducer('plain');
    await producer.connect();
    arena.defer(() => producer.disconnect());
    const { failed, shrunk, log } = await failThenSend('plain', (value) => producer.send({ topic: `${arena.id}.plain`, acks: -1, messages: [{ partition: 0, value }] }));
    expect(failed?.message).toMatch(/replicas/i); // the fault really fired: NOT_ENOUGH_REPLICAS(_AFTER_APPEND)
    expect(shrunk).toBe(1);
    expect(log).toEqual(['warm-up', 'failed']); // 'failed' was appended; 'next' was acknowledged, never written
  }, 240_000);

  it('RenewingProducer sends the next record through a new producer: it is on the log', async () => {
    const publisher = new RenewingProducer(() => newProducer('renewing'));
    await publisher.connect();
    arena.defer(() => publisher.disconnect());
    const { failed, shrunk, log } = await failThenSend('renewing', (value) => publisher.send(`${arena.id}.renewing`, { partition: 0, value }));
    expect(failed?.message).toMatch(/replicas/i);
    expect(shrunk).toBe(1);
    expect(publisher.retired).toBe(1);
    expect(log).toEqual(['warm-up', 'failed', 'next']);
  }, 240_000);
});
