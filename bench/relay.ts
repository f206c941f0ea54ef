/**
 * 1. Outbox relay vs a raw kafkajs producer, on the same records.
 *
 * Relay   `startOutboxRelay` on a pre-filled outbox (rows written by `outboxRow`, as the command-service
 *         writes them). Timed from just before the start call to the moment the last row was marked
 *         published: both ends are read from MySQL's clock (NOW(6) before the start, MAX(published_at)
 *         after the drain), so the poll that notices the drain adds nothing to the figure.
 * Raw     a bare kafkajs producer with the relay's producer settings (idempotent, maxInFlightRequests 5,
 *         Java-compatible murmur2 partitioner, acks=-1, the same batch size per send, the same key and
 *         headers) sending the same envelopes to a topic with the same partition count. Its timed
 *         section includes, like the relay's, connecting the producer and registering the schema, and
 *         Avro-encoding every record (EnvelopeSerde + registry): what it leaves out is exactly the
 *         relay's own work — reading, parsing, locking and marking outbox rows.
 * Both sides send one batch at a time and await its acknowledgement, in the outbox's id order.
 * Each repetition has its own database and topics; the side that goes first alternates.
 */
import { Partitioners } from 'kafkajs';
import { envelopeHeaders, EnvelopeSerde, RegistrySchemaSource, startService, type EventEnvelope } from '../src/contract.ts';
import { writeOutboxRows } from '../lab/clients/outbox-writer.ts';
import { kafka } from '../lab/infra/clients.ts';
import type { LabEnvironment } from '../lab/infra/environment.ts';
import { waitFor } from '../lab/infra/ports.ts';
import { inTurn, progress } from './progress.ts';
import { databaseNow, drainTimeoutMs, repeatInScopes, scalar, type Scope } from './scope.ts';
import type { BenchSettings } from './settings.ts';
import { ratioSample, sample, type Heading, type Row, type Sample } from './table.ts';

async function relayDrain(scope: Scope, events: EventEnvelope[], batchSize: number): Promise<Sample> {
  await writeOutboxRows(scope.database.pool, events, { chunk: 1000 });
  const startedAt = await databaseNow(scope.database);
  const relay = await startService('relay', { ...scope.config, relayId: `${scope.id}-relay`, batchSize });
  try {
    await waitFor(
      'the outbox to drain',
      async () => (await scalar(scope.database, 'SELECT COUNT(*) FROM outbox_event WHERE published_at IS NULL')) === 0,
      { timeoutMs: drainTimeoutMs(events.length), intervalMs: 500 },
    );
  } finally {
    await relay.stop();
  }
  const lastMarked = await scalar(scope.database, 'SELECT UNIX_TIMESTAMP(MAX(published_at)) FROM outbox_event');
  return sample(events.length / (lastMarked - startedAt));
}

async function rawProduce(env: LabEnvironment, scope: Scope, events: EventEnvelope[], batchSize: number): Promise<Sample> {
  const topics = await scope.topics('raw');
  const serde = new EnvelopeSerde(new RegistrySchemaSource(env.descriptor.schemaRegistry.url), { subject: `${topics.events}-value` });
  const producer = kafka(env, `${scope.id}-raw`).producer({
    idempotent: true,
    maxInFlightRequests: 5,
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  const started = performance.now();
  try {
    await producer.connect();
    for (let i = 0; i < events.length; i += batchSize) {
      const messages = [];
      for (const event of events.slice(i, i + batchSize)) messages.push({ key: event.aggregateId, value: await serde.encode(event), headers: envelopeHeaders(event) });
      await producer.send({ topic: topics.events, acks: -1, messages });
    }
    return sample(events.length / ((performance.now() - started) / 1000));
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

export async function relayVersusRawProducer(env: LabEnvironment, settings: BenchSettings): Promise<Array<Row | Heading>> {
  const results = await repeatInScopes(env, settings, 'relay vs raw producer', 'bench_relay', async (scope, events, relayFirst) => {
    const [relay, raw] = await inTurn(relayFirst, () => relayDrain(scope, events, settings.batchSize), () => rawProduce(env, scope, events, settings.batchSize));
    progress(`  relay ${Math.round(relay.value)}/s, raw ${Math.round(raw.value)}/s`);
    return { relay, raw, ratio: ratioSample(relay, raw) };
  });
  return [
    { heading: `1. relay vs raw producer: ${settings.records.toLocaleString('en-US')} events over ${settings.accounts} accounts, ${settings.batchSize} per send, acks=-1, idempotent` },
    { name: '   relay drain of a pre-filled outbox, events/s', format: 'rate', samples: results.map((r) => r.relay) },
    { name: '   raw kafkajs producer incl. Avro encoding, events/s', format: 'rate', samples: results.map((r) => r.raw) },
    { name: '   ratio relay / raw', format: 'ratio', samples: results.map((r) => r.ratio), target: { op: '>=', value: 0.6 } },
  ];
}
