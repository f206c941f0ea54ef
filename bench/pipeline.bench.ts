/**
 * `npm run bench`: pipeline throughput and latency, measured side by side in one run on one cluster.
 *
 *   (a) outbox-relay drain rate of a pre-filled outbox  vs  a raw kafkajs producer sending the same
 *       encoded records with the same acks, idempotence and batch size → ratio (target ≥ 0.5)
 *   (b) end-to-end latency at a fixed command rate: command committed → projection applied (p50/p99,
 *       from MySQL's own microsecond timestamps of the ledger entry and the projection's apply log)
 *   (c) Kafka's own ProducerPerformance on the same kind of topic: the ceiling of this cluster
 *
 * Sizes: LAB_BENCH_RECORDS (default 20000), LAB_BENCH_RATE (commands/s, default 100),
 * LAB_BENCH_SECONDS (default 15). Uses a running `lab up` cluster or starts one for the run.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { RowDataPacket } from 'mysql2';
import { Pool } from 'undici';
import { EnvelopeSerde, newEnvelope, RegistrySchemaSource, type EventEnvelope } from '../src/envelope/index.ts';
import { eventHeaders } from '../src/kafka/headers.ts';
import { createTopicsAndWait, ensureTopics, topicNames } from '../src/kafka/topics.ts';
import { startCommandService } from '../src/services/command/index.ts';
import { outboxRow } from '../src/services/command/outbox.ts';
import { startConsumerService } from '../src/services/consumer/index.ts';
import { startOutboxRelay } from '../src/services/relay/index.ts';
import { kafka } from '../lab/infra/clients.ts';
import { connectEnvironment } from '../lab/infra/connect.ts';
import type { LabEnvironment } from '../lab/infra/environment.ts';
import { deleteTopicsWithPrefix, isolationId } from '../lab/infra/isolation.ts';
import { javaBinary } from '../lab/infra/local/java.ts';
import { kafkaLibs } from '../lab/infra/local/kafka.ts';
import { waitFor } from '../lab/infra/ports.ts';
import { acquireEnvironment } from '../lab/infra/providers/index.ts';
import { commonConfig, createMigratedDatabase } from '../lab/infra/services.ts';

const records = Number(process.env.LAB_BENCH_RECORDS ?? 20_000);
const rate = Number(process.env.LAB_BENCH_RATE ?? 100);
const seconds = Number(process.env.LAB_BENCH_SECONDS ?? 15);
const batchSize = 500;
const execFileAsync = promisify(execFile);
const print = (line: string) => console.log(line);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function workload(count: number): EventEnvelope[] {
  const versions = new Map<string, number>();
  return Array.from({ length: count }, (_, i) => {
    const accountId = `bench-${i % 200}`;
    const version = (versions.get(accountId) ?? 1) + 1;
    versions.set(accountId, version);
    return newEnvelope({ type: 'FundsDeposited', accountId, amount: 100 + (i % 900) }, { id: accountId, version });
  });
}

async function relayVersusRawProducer(env: LabEnvironment) {
  const id = isolationId(env, 'bench_relay');
  const database = await createMigratedDatabase(env, id);
  const admin = kafka(env, `${id}-admin`).admin();
  await admin.connect();
  const relayConfig = commonConfig(env, { database: id, topicPrefix: `${id}.relay.` });
  const rawTopics = topicNames(`${id}.raw.`);
  await ensureTopics(admin, relayConfig.topics);
  await ensureTopics(admin, rawTopics);
  const envelopes = workload(records);
  try {
    // Pre-fill the outbox exactly as the command-service writes it.
    for (let i = 0; i < envelopes.length; i += 1000) {
      const rows = envelopes.slice(i, i + 1000).map((e) => outboxRow(e));
      await database.pool.query('INSERT INTO outbox_event (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, shard, payload, headers) VALUES ?', [rows]);
    }
    const relayStart = performance.now();
    const relay = await startOutboxRelay({ ...relayConfig, relayId: 'bench', batchSize });
    await waitFor('the outbox to drain', async () => {
      const [[row]] = await database.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM outbox_event WHERE published_at IS NULL');
      return Number(row!.n) === 0;
    }, { timeoutMs: 600_000, intervalMs: 50 });
    const relaySeconds = (performance.now() - relayStart) / 1000;
    await relay.stop();

    // The same encoded records, same acks/idempotence/batch size, from a bare kafkajs producer.
    const serde = new EnvelopeSerde(new RegistrySchemaSource(env.descriptor.schemaRegistry.url), { subject: `${rawTopics.events}-value` });
    const encoded = await Promise.all(envelopes.map(async (e) => ({ key: e.aggregateId, value: await serde.encode(e), headers: { [eventHeaders.eventId]: e.eventId, [eventHeaders.eventType]: e.eventType, [eventHeaders.traceId]: e.traceId, [eventHeaders.aggregateId]: e.aggregateId } })));
    const producer = kafka(env, `${id}-raw`).producer({ idempotent: true, maxInFlightRequests: 5 });
    await producer.connect();
    const rawStart = performance.now();
    for (let i = 0; i < encoded.length; i += batchSize) await producer.send({ topic: rawTopics.events, acks: -1, messages: encoded.slice(i, i + batchSize) });
    const rawSeconds = (performance.now() - rawStart) / 1000;
    await producer.disconnect();
    const avgBytes = Math.round(encoded.reduce((sum, m) => sum + m.value.length, 0) / encoded.length);

    const relayRate = records / relaySeconds;
    const rawRate = records / rawSeconds;
    print(`(a) relay drain: ${records} outbox rows in ${relaySeconds.toFixed(2)} s = ${Math.round(relayRate)} events/s`);
    print(`    raw kafkajs producer, same ${records} records (${avgBytes} B avg, acks=all, idempotent, ${batchSize}/send): ${rawSeconds.toFixed(2)} s = ${Math.round(rawRate)} events/s`);
    print(`    ratio relay / raw = ${(relayRate / rawRate).toFixed(2)} (target >= 0.5)`);
    return { avgBytes, topicPrefix: id };
  } finally {
    await deleteTopicsWithPrefix(admin, id).catch(() => undefined);
    await admin.disconnect();
    await database.drop();
  }
}

async function endToEndLatency(env: LabEnvironment) {
  const id = isolationId(env, 'bench_e2e');
  const database = await createMigratedDatabase(env, id);
  const admin = kafka(env, `${id}-admin`).admin();
  await admin.connect();
  const config = commonConfig(env, { database: id, topicPrefix: `${id}.` });
  await ensureTopics(admin, config.topics);
  const services = [
    await startCommandService({ ...config, mode: 'outbox' }),
    await startOutboxRelay({ ...config, relayId: 'bench-e2e' }),
    await startConsumerService({ ...config, groupId: `${id}.projection` }),
  ];
  const http = new Pool(services[0]!.url, { connections: 8 });
  try {
    const post = async (path: string, body: object, key: string) => {
      const response = await http.request({ method: 'POST', path, headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
      await response.body.dump();
      if (response.statusCode !== 201) throw new Error(`${path} → HTTP ${response.statusCode}`);
    };
    const accounts = Array.from({ length: 20 }, (_, i) => `e2e-${i}`);
    for (const account of accounts) await post('/accounts', { accountId: account, owner: 'bench', currency: 'KRW' }, `open-${account}`);
    const total = rate * seconds;
    const interval = 1000 / rate;
    const start = performance.now();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < total; i += 1) {
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      sends.push(post(`/accounts/${accounts[i % accounts.length]}/deposits`, { amount: 10 }, `d-${i}`));
    }
    await Promise.all(sends);
    const achieved = total / ((performance.now() - start) / 1000);
    await waitFor('all deposits applied', async () => {
      const [[row]] = await database.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM applied_event_log a JOIN ledger_entries l ON l.event_id = a.event_id');
      return Number(row!.n) >= total;
    }, { timeoutMs: 300_000, intervalMs: 200 });
    const [rows] = await database.pool.query<RowDataPacket[]>('SELECT TIMESTAMPDIFF(MICROSECOND, l.created_at, a.applied_at) / 1000 AS ms FROM ledger_entries l JOIN applied_event_log a ON a.event_id = l.event_id');
    const latencies = rows.map((row) => Number(row.ms)).sort((a, b) => a - b);
    print(`(b) end to end at ${rate} commands/s for ${seconds} s (achieved ${achieved.toFixed(0)}/s, ${total} commands): command committed → projection applied p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`);
  } finally {
    await http.close();
    for (const service of services.reverse()) await service.stop().catch(() => undefined);
    await deleteTopicsWithPrefix(admin, id).catch(() => undefined);
    await admin.disconnect();
    await database.drop();
  }
}

async function producerPerformanceCeiling(env: LabEnvironment, recordSize: number) {
  if (env.descriptor.provider !== 'local') {
    print('(c) ProducerPerformance: runs with the local provider only (it uses the installed Kafka jars)');
    return;
  }
  const id = isolationId(env, 'bench_perf');
  const admin = kafka(env, `${id}-admin`).admin();
  await admin.connect();
  const topic = `${id}.perf`;
  await createTopicsAndWait(admin, [{ topic, numPartitions: 6 }]);
  try {
    const { stdout } = await execFileAsync(javaBinary(), [
      '-Xmx512m', '-cp', `${kafkaLibs()}/*`, `-Dlog4j2.configurationFile=${path.resolve('infra/native/log4j2.properties')}`,
      'org.apache.kafka.tools.ProducerPerformance', '--topic', topic, '--num-records', String(records * 5), '--record-size', String(recordSize),
      '--throughput', '-1', '--producer-props', `bootstrap.servers=${env.brokers.join(',')}`, 'acks=all', 'enable.idempotence=true', 'linger.ms=5',
    ], { maxBuffer: 16 * 1024 * 1024 });
    const summary = stdout.trim().split('\n').at(-1) ?? '';
    print(`(c) Kafka ProducerPerformance, ${records * 5} records of ${recordSize} B, acks=all, idempotent: ${summary}`);
  } finally {
    await deleteTopicsWithPrefix(admin, id).catch(() => undefined);
    await admin.disconnect();
  }
}

const { descriptor, release } = await acquireEnvironment({ ownerPid: process.pid, log: (line) => console.error(`[lab] ${line}`) });
try {
  const env = connectEnvironment(descriptor);
  print(`pipeline benchmark on the ${descriptor.provider} cluster (${env.brokers.length} brokers, every link through Toxiproxy without toxics)`);
  const { avgBytes } = await relayVersusRawProducer(env);
  await endToEndLatency(env);
  await producerPerformanceCeiling(env, avgBytes);
} finally {
  await release();
}
process.exit(0);
