/**
 * Alerts fire in the running Alertmanager on real faults (issue 15: the alert rules proven live).
 *
 * Question  Do the lab's alert rules (infra/observability/prometheus/alerts.yml), evaluated by the
 *           Prometheus `lab up` starts on what its exporters scrape, fire when the fault they are written
 *           for happens, and resolve after the heal?
 * Setup     The cluster's own Prometheus and Alertmanager (descriptor.observability); an arena (database,
 *           topic set with 2 partitions); services as their own processes, scraped through file_sd.
 * Fault     relay SIGKILLed, then 10 rows written to the outbox · a consumer group that committed and
 *           stopped while 10 records/s keep coming · a poison record (not Avro) on the
 *           events topic of a running consumer · broker 2 SIGKILLed (nemesis) under a topic whose only
 *           replicas are brokers 1 and 2 with min.insync.replicas 2 (the lab's RF 3 topics keep 2 in-sync
 *           replicas when one broker dies: they are not under min ISR, so they cannot show it).
 * Expected  OutboxOldestRowStale fires (oldest row > 20 s for 10 s), resolves once a new relay drained
 *           the rows; ConsumerLagGrowing fires for that group (lag from the LSO > 50 and growing), resolves
 *           once a consumer of the group caught up; DeadLettersWritten fires for that DLQ topic (not resolved here: it looks back 1 min);
 *           PartitionsUnderMinIsr fires, and resolves when the restarted broker is back in the ISR.
 *           None of them fires before its fault.
 * Numbers   `[alerts] …`: seconds from the fault to firing and from the heal to resolving.
 */
import { describe, expect, it } from 'vitest';
import { createTopicsAndWait, eventHeaders, newEnvelope } from '../../src/contract.ts';
import { writeOutboxRows } from '../clients/outbox-writer.ts';
import { kafka } from '../infra/clients.ts';
import { waitFor } from '../infra/ports.ts';
import { fileArena, labEnvironment } from '../infra/vitest.ts';
import { Nemesis } from '../nemesis/nemesis.ts';
import { AlertWatch } from '../observe/alerts.ts';
import { count } from '../observe/database.ts';

const env = labEnvironment();
const arena = fileArena(env, 'alerts', 2);
const report = (line: string) => console.log(`[alerts] ${line}`);
const seconds = (since: number) => ((Date.now() - since) / 1000).toFixed(1);
// Rules evaluate every 5 s on series scraped every 5 s from exporters that refresh every 2 s, plus each
// rule's threshold and `for`: 2 minutes is several times the slowest (OutboxOldestRowStale: ~45 s).
const alertTimeoutMs = 120_000;

describe.runIf(env.descriptor.observability)('alerts fire in the running Alertmanager', () => {
  const alerts = new AlertWatch(env.descriptor.observability!);

  it('relay killed with rows in the outbox → OutboxOldestRowStale, resolved once a relay drained them', async () => {
    expect(await alerts.firing('OutboxOldestRowStale')).toEqual([]);
    const relay = await arena.start('relay', { relayId: 'first', batchSize: 20, pollIntervalMs: 10 });
    // file_sd: the relay's own /metrics is scraped while it runs.
    await waitFor('the relay scraped', async () => (await alerts.query(`up{job="services",process="${relay.name}"}`))[0]?.value === 1, { timeoutMs: 30_000, intervalMs: 1000 });
    await relay.kill();
    const accounts = Array.from({ length: 10 }, (_, i) => `${arena.id}-a${i}`);
    await writeOutboxRows(arena.database.pool, accounts.map((id) => newEnvelope({ type: 'AccountOpened', accountId: id, owner: id, currency: 'EUR' }, { id, version: 1 })));
    const written = Date.now();
    const alert = await alerts.until('fires', 'OutboxOldestRowStale', alertTimeoutMs);
    report(`relay killed, 10 rows unpublished: OutboxOldestRowStale fired ${seconds(written)} s after the rows were written (${alert!.annotations.summary})`);
    expect(alert!.annotations.runbook_url).toBe('docs/RUNBOOK.md#alert-outboxoldestrowstale');

    await arena.start('relay', { relayId: 'second', batchSize: 20, pollIntervalMs: 10 });
    const healed = Date.now();
    await waitFor('the outbox drained', async () => (await count(arena.database.pool, 'outbox_event', 'published_at IS NULL')) === 0, { timeoutMs: 60_000 });
    await alerts.until('resolves', 'OutboxOldestRowStale', alertTimeoutMs);
    report(`a new relay drained the outbox: resolved ${seconds(healed)} s after it started`);
  });

  it('consumer group stopped while records keep coming → ConsumerLagGrowing, resolved once it caught up', async () => {
    const topic = `${arena.id}.lagging`;
    const group = `${arena.id}.lagging-group`;
    await createTopicsAndWait(arena.admin, [{ topic, numPartitions: 1 }]);
    const client = kafka(env, `${arena.id}-lag`);
    const producer = client.producer();
    await producer.connect();
    arena.defer(() => producer.disconnect());
    const send = (n: number) => producer.send({ topic, acks: -1, messages: Array.from({ length: n }, (_, i) => ({ value: String(i) })) });
    const consumeAll = async () => {
      const consumer = client.consumer({ groupId: group });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      let seen = 0;
      await consumer.run({ eachMessage: async () => void (seen += 1) });
      return { consumer, seen: () => seen };
    };
    await send(1);
    const first = await consumeAll();
    const committed = async () => (await arena.admin.fetchOffsets({ groupId: group, topics: [topic] }))[0]!.partitions[0]!.offset;
    await waitFor('the first record consumed and committed', async () => first.seen() === 1 && (await committed()) === '1', { timeoutMs: 60_000 });
    await first.consumer.disconnect(); // the group is stopped at offset 1
    expect(await alerts.firing('ConsumerLagGrowing', { group })).toEqual([]);
    const stopped = Date.now();
    let producing = true;
    const load = (async () => {
      while (producing) await Promise.all([send(10), new Promise((resolve) => setTimeout(resolve, 1000))]);
    })();
    try {
      const alert = await alerts.until('fires', 'ConsumerLagGrowing', alertTimeoutMs, { group });
      report(`group stopped, 10 records/s coming: ConsumerLagGrowing fired ${seconds(stopped)} s after it stopped (${alert!.annotations.summary})`);
    } finally {
      producing = false;
      await load;
    }
    const again = await consumeAll();
    arena.defer(() => again.consumer.disconnect());
    const caughtUp = Date.now();
    await alerts.until('resolves', 'ConsumerLagGrowing', alertTimeoutMs, { group });
    report(`a consumer of the group caught up: resolved ${seconds(caughtUp)} s after it started`);
  });

  it('a poison record → DeadLettersWritten for its DLQ topic', async () => {
    const dlq = arena.config.topics.dlq;
    expect(await alerts.firing('DeadLettersWritten', { topic: dlq })).toEqual([]);
    await arena.start('consumer', { groupId: `${arena.id}.projection` });
    // increase() needs a sample before the write: wait until Prometheus holds two of the empty DLQ.
    await waitFor('the empty DLQ measured twice', async () => (await alerts.query(`count_over_time(lab_topic_end_offset{topic="${dlq}"}[1m])`)).some((s) => s.value >= 2), { timeoutMs: 60_000, intervalMs: 1000 });
    const producer = kafka(env, `${arena.id}-poison`).producer();
    await producer.connect();
    await producer.send({ topic: arena.config.topics.events, acks: -1, messages: [{ key: `${arena.id}-p`, value: Buffer.from('not an Avro record'), headers: { [eventHeaders.eventId]: `${arena.id}-poison` } }] });
    await producer.disconnect();
    const sent = Date.now();
    const alert = await alerts.until('fires', 'DeadLettersWritten', alertTimeoutMs, { topic: dlq });
    report(`poison record: DeadLettersWritten fired for ${dlq} ${seconds(sent)} s after it was sent (${alert!.annotations.summary})`);
  });

  it('broker 2 killed under a min-ISR-2 topic on brokers 1 and 2 → PartitionsUnderMinIsr, resolved after its restart', async () => {
    expect(await alerts.firing('PartitionsUnderMinIsr')).toEqual([]);
    const topic = `${arena.id}.min-isr`;
    await arena.admin.createTopics({ waitForLeaders: true, topics: [{ topic, replicaAssignment: [{ partition: 0, replicas: [1, 2] }], configEntries: [{ name: 'min.insync.replicas', value: '2' }] }] });
    await waitFor('both replicas in sync', async () => (await arena.admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions[0]!.isr.length === 2, { timeoutMs: 30_000 });
    const nemesis = new Nemesis(env);
    arena.defer(() => nemesis.heal()); // the broker is restarted even if an assertion fails
    await nemesis.kill('broker-2');
    const killed = Date.now();
    const alert = await alerts.until('fires', 'PartitionsUnderMinIsr', alertTimeoutMs);
    report(`broker-2 SIGKILLed: PartitionsUnderMinIsr fired ${seconds(killed)} s later (${alert!.annotations.summary})`);
    expect(Number(alert!.annotations.summary!.split(' ')[0])).toBeGreaterThanOrEqual(1);

    await nemesis.heal();
    const restarted = Date.now();
    await alerts.until('resolves', 'PartitionsUnderMinIsr', alertTimeoutMs);
    report(`broker-2 restarted: resolved ${seconds(restarted)} s after it accepted connections again`);
  });
});
