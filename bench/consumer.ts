/**
 * 2. consumer-service vs a raw decode-only kafkajs consumer, on the same backlog.
 *
 * Backlog  `records` events over the accounts, a valid history (AccountOpened v1, then deposits v2 … vn
 *          per account), produced to a fresh events topic before either side starts.
 * Service  `startConsumerService` (its defaults: idempotent, offsets committed after processing) reads
 *          the topic from the beginning and applies every event to MySQL. Timestamps are MySQL's own:
 *          NOW(6) just before the start call, then MIN/MAX(applied_event_log.applied_at). Completion is
 *          COUNT(processed_event) = records (each event applied once).
 * Raw      a kafkajs consumer in its own group on the same topic from the beginning, with the service's
 *          fetch settings (maxWaitTimeInMs 250, 3 partitions at once, no auto-commit), that only decodes
 *          each record (EnvelopeSerde.decode, registry included) — the ceiling for "read and decode".
 * What the ratio includes: the steady apply rate, from each side's FIRST event done (applied / decoded)
 * to its last: (records − 1) / (last − first). Group join, the first fetch and the first schema lookup
 * are left out of both sides equally, and shown on their own rows ("start → first event"), as is the
 * service's rate from its start call, join included.
 * No Redis and no notification gateway are configured: the cost measured is decode + dedupe + projection
 * + offset commits. Each repetition has its own database and topic; the side that goes first alternates.
 */
import { EnvelopeSerde, RegistrySchemaSource, startService } from '../src/contract.ts';
import { produceEvents } from '../lab/clients/event-producer.ts';
import { kafka } from '../lab/infra/clients.ts';
import type { LabEnvironment } from '../lab/infra/environment.ts';
import { waitFor } from '../lab/infra/ports.ts';
import { inTurn, progress } from './progress.ts';
import { databaseNow, drainTimeoutMs, repeatInScopes, scalar, type Scope } from './scope.ts';
import type { BenchSettings } from './settings.ts';
import { ratioSample, sample, type Heading, type Row, type Sample } from './table.ts';

interface SideResult {
  /** Events per second from the first event done to the last. */
  rate: Sample;
  /** Seconds from the start call to the first event done. */
  join: Sample;
  /** Events per second from the start call (join included). */
  fromStart: Sample;
}

async function consumerService(scope: Scope, count: number): Promise<SideResult> {
  const startedAt = await databaseNow(scope.database);
  const service = await startService('consumer', { ...scope.config, groupId: `${scope.id}.projection` });
  let failure: Error | undefined;
  void service.failed?.then((error) => (failure = error));
  try {
    await waitFor(
      `the consumer-service to apply ${count} events`,
      async () => {
        // MAX(id) is an index dive; only when it says "maybe done" is the exact count taken.
        if ((await scalar(scope.database, 'SELECT COALESCE(MAX(id), 0) FROM applied_event_log')) < count) return false;
        return (await scalar(scope.database, 'SELECT COUNT(*) FROM processed_event')) >= count;
      },
      { timeoutMs: drainTimeoutMs(count), intervalMs: 1000, giveUp: () => failure && `the consumer-service failed: ${failure.message}` },
    );
  } finally {
    await service.stop();
  }
  const first = await scalar(scope.database, 'SELECT UNIX_TIMESTAMP(MIN(applied_at)) FROM applied_event_log');
  const last = await scalar(scope.database, 'SELECT UNIX_TIMESTAMP(MAX(applied_at)) FROM applied_event_log');
  const done = sample(0).load;
  return {
    rate: { value: (count - 1) / (last - first), load: done },
    join: { value: first - startedAt, load: done },
    fromStart: { value: count / (last - startedAt), load: done },
  };
}

async function rawDecodeOnly(env: LabEnvironment, scope: Scope, count: number): Promise<SideResult> {
  const topic = scope.config.topics.events;
  const serde = new EnvelopeSerde(new RegistrySchemaSource(env.descriptor.schemaRegistry.url), { subject: `${topic}-value` });
  const consumer = kafka(env, `${scope.id}-raw`).consumer({ groupId: `${scope.id}.raw`, sessionTimeout: 10_000, heartbeatInterval: 1000, maxWaitTimeInMs: 250 });
  let decoded = 0;
  let first: number | undefined;
  let finish!: (at: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 3,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          await serde.decode(message.value);
          decoded += 1;
          first ??= performance.now();
          if (decoded === count) finish(performance.now());
        }
      },
    });
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`raw consumer decoded ${decoded} of ${count} events in time`)), drainTimeoutMs(count))));
    const last = await Promise.race([finished, timeout]);
    const done = sample(0).load;
    return {
      rate: { value: (count - 1) / ((last - first!) / 1000), load: done },
      join: { value: (first! - started) / 1000, load: done },
      fromStart: { value: count / ((last - started) / 1000), load: done },
    };
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
  }
}

export async function consumerVersusRawConsumer(env: LabEnvironment, settings: BenchSettings): Promise<Array<Row | Heading>> {
  const results = await repeatInScopes(env, settings, 'consumer vs raw decode-only consumer', 'bench_consumer', async (scope, events, serviceFirst) => {
    progress(`  producing the backlog of ${events.length} events`);
    await produceEvents(env, scope.config.topics, events);
    const [service, raw] = await inTurn(serviceFirst, () => consumerService(scope, events.length), () => rawDecodeOnly(env, scope, events.length));
    progress(`  consumer ${Math.round(service.rate.value)}/s (join ${service.join.value.toFixed(2)} s), raw ${Math.round(raw.rate.value)}/s (join ${raw.join.value.toFixed(2)} s)`);
    return { service, raw, ratio: ratioSample(service.rate, raw.rate) };
  });
  return [
    { heading: `2. consumer vs raw decode-only consumer: backlog of ${settings.records.toLocaleString('en-US')} events over ${settings.accounts} accounts, group join excluded` },
    { name: '   consumer-service applying, events/s', format: 'rate', samples: results.map((r) => r.service.rate) },
    { name: '   raw consumer decoding only, events/s', format: 'rate', samples: results.map((r) => r.raw.rate) },
    { name: '   ratio consumer / raw', format: 'ratio', samples: results.map((r) => r.ratio), target: { op: '>=', value: 0.3 } },
    { name: '   consumer-service start -> first event applied, s', format: 's', samples: results.map((r) => r.service.join) },
    { name: '   raw consumer start -> first event decoded, s', format: 's', samples: results.map((r) => r.raw.join) },
    { name: '   consumer-service incl. join, events/s', format: 'rate', samples: results.map((r) => r.service.fromStart) },
  ];
}
