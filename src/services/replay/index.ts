/**
 * replay-worker: controlled replay of the DLQ (E-005) as a service, one bounded job per request.
 *
 *   POST /replays   body ReplayOptions {operator, reason, filter?, ratePerSecond, dryRun?, limit?}
 *                   200 ReplayReport when the job finished; 400 with the reason for a bad request
 *
 * `operator` in the config is the default operator when a request names none (a worker started by one
 * person for one job); with neither, the request is refused: every replay is attributable.
 * The job itself is runReplay (replay.ts), usable in process without HTTP.
 */
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { RenewingProducer } from '../../kafka/renewing-producer.ts';
import type { CommonConfig } from '../../config.ts';
import { createPool } from '../../db/pool.ts';
import { HttpError, createHttpServer, listen } from '../../http/server.ts';
import { kafkaLogCreator } from '../../kafka/log.ts';
import { createLogger } from '../../observability/logger.ts';
import { ServiceMetrics } from '../../observability/metrics.ts';
import type { RunningService } from '../service.ts';
import { runReplay, type ReplayDeps } from './replay.ts';
import { auditLimits, invalidReplayOptions, type ReplayOptions } from './request.ts';

export { runReplay, ReplayOptionsError, type ReplayDeps, type ReplayReport } from './replay.ts';
export { matchReplayFilter, replayHeaders, invalidReplayOptions, type ReplayFilter, type ReplayOptions } from './request.ts';
export type { ReplayResult } from './audit.ts';

export type ReplayWorkerConfig = CommonConfig & { operator?: string };

const replayBody = {
  type: 'object',
  required: ['reason', 'ratePerSecond'],
  properties: {
    operator: { type: 'string', minLength: 1, maxLength: auditLimits.operator },
    reason: { type: 'string', minLength: 1, maxLength: auditLimits.reason },
    filter: {
      type: 'object',
      additionalProperties: false,
      properties: {
        eventTypes: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 64 } },
        errorClasses: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 128 } },
        from: { type: 'integer', minimum: 0 },
        to: { type: 'integer', minimum: 0 },
      },
    },
    ratePerSecond: { type: 'number', exclusiveMinimum: 0 },
    dryRun: { type: 'boolean' },
    limit: { type: 'integer', minimum: 1 },
  },
} as const;

// kafkajs warns on every producer about a partitioner change from 2021; the default is what we want.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

export async function startReplayWorker(config: ReplayWorkerConfig): Promise<RunningService> {
  const logger = createLogger('replay-worker', config.logLevel);
  const metrics = new ServiceMetrics('replay-worker');
  const records = metrics.counter('replay_records_total', 'DLQ records looked at by replays, by result', ['result']);
  const pool = createPool(config.mysql, 3);
  const kafka = new Kafka({
    clientId: 'replay-worker',
    brokers: config.kafka.brokers,
    logLevel: process.env.LAB_KAFKA_LOG === 'debug' ? logLevel.DEBUG : logLevel.ERROR,
    logCreator: kafkaLogCreator(logger),
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    retry: { retries: 8, initialRetryTime: 200 },
  });
  // Idempotent (acks=-1): a send retried after a lost ack does not put the record in twice. Java's
  // murmur2 partitioner: a replayed record lands on the partition its key always lands on.
  // Replaced after a failed send (renewing-producer.ts): a replay marks a failed record and goes on with the
  // next, which on the same kafkajs producer could reuse the failed one's sequence number and be lost.
  const producer = new RenewingProducer(() => kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false }));
  await producer.connect();
  const deps: ReplayDeps = { kafka, producer, pool, topics: config.topics, logger, onResult: (result) => records.inc({ result }) };

  const app = createHttpServer({ metrics, logger });
  app.post<{ Body: Partial<ReplayOptions> }>('/replays', { schema: { body: replayBody } }, async (request) => {
    const options = { ...request.body, operator: request.body.operator ?? config.operator } as ReplayOptions;
    const invalid = invalidReplayOptions(options);
    if (invalid) throw new HttpError(400, 'bad-request', invalid);
    return runReplay(deps, options);
  });

  const url = await listen(app, config.httpPort ?? 0);
  logger.info({ url, dlq: config.topics.dlq, events: config.topics.events }, 'replay-worker started');
  let stopped: Promise<void> | undefined;
  return {
    name: 'replay',
    url,
    metrics,
    stop: () =>
      (stopped ??= (async () => {
        await app.close(); // waits for running replays (their requests) to finish
        await Promise.allSettled([producer.disconnect(), pool.end()]);
      })()),
  };
}
