/**
 * command-service: the wallet's write side over HTTP.
 *
 *   POST /accounts                 {accountId?, owner, currency}                     → 201 {accountId, balance, version, eventIds}
 *   POST /accounts/:id/deposits    {amount}                                          → 201 {accountId, balance, version, eventIds}
 *   POST /accounts/:id/withdrawals {amount}                                          → 201 {accountId, balance, version, eventIds}
 *   POST /transfers                {transferId?, fromAccountId, toAccountId, amount} → 201 {transferId, from, to, eventIds}
 *   GET  /accounts/:id                                                               → {accountId, owner, currency, balance, version}
 * Every POST needs an `Idempotency-Key` header (see idempotency.ts). Optional `trace-id` header.
 * Bodies are strict (src/http/strict-json.ts): an unknown property is a 400 naming it (never stripped
 * and applied), and a key twice in one object (`{"amount":1,"amount":2}`) is a 400 `duplicate-key`
 * (never last-wins): a money API does not guess which amount was meant.
 *
 * How events leave the service (`mode`):
 *   outbox  domain change + outbox rows in ONE transaction; the relay publishes later. An event exists
 *           iff its change committed, whatever crashes (E-001/E-002 ✅ arm).
 *   direct  the dual write, kept as the experiments' anti-pattern (E-002 ❌ arm):
 *           commit-then-produce  a crash or produce failure after COMMIT loses the event (the client
 *                                gets a 500 although the money moved — deliberately not papered over);
 *           produce-then-commit  a crash or failed COMMIT after the produce leaves a phantom event.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CommonConfig } from '../../config.ts';
import { createPool, isDuplicateKey, isDuplicatePrimaryKey, isRetryableDbError } from '../../db/pool.ts';
import type { EventEnvelope } from '../../envelope/envelope.ts';
import { failpoint } from '../../failpoints/index.ts';
import { createHttpServer, HttpError, listen } from '../../http/server.ts';
import { EventPublisher } from '../../kafka/event-publisher.ts';
import { eventHeaders } from '../../kafka/headers.ts';
import { createLogger } from '../../observability/logger.ts';
import { ServiceMetrics } from '../../observability/metrics.ts';
import { dependencyGuard, DependencyUnavailableError, guardMetrics, isDatabaseUnavailable, type GuardOptions } from '../../resilience/index.ts';
import type { RunningService } from '../service.ts';
import { claimKey, completeKey, idempotencyKeyHeader, KeyAlreadyUsed, replayedHeader, requestHash, requireIdempotencyKey, storedResponse } from './idempotency.ts';
import { deposit, openAccount, readAccount, transfer, withdraw, type CommandContext, type CommandPlan, type CommandResult } from './ledger.ts';
import { defaultOutboxShards, insertOutboxEvents, outboxShard } from './outbox.ts';
import { countingQuery, runBatch, type Statement } from './query.ts';
import { accountParams, amountBody, assertJsonNumbers, openAccountBody, transferBody } from './validation.ts';

export interface CommandServiceConfig extends CommonConfig {
  mode: 'outbox' | 'direct';
  /** direct mode only; default commit-then-produce. */
  directOrder?: 'commit-then-produce' | 'produce-then-commit';
  /** Must equal the relay's; default 16. */
  outboxShards?: number;
  /** direct mode's producer; default true (false = E-003's non-idempotent producer). */
  idempotentProducer?: boolean;
  /** MySQL connections; default 16. */
  dbConnections?: number;
  /**
   * E-023: a timeout and circuit breaker around each command's transaction (src/resilience). Default
   * `{ mode: 'none' }`: as before, a command waits for MySQL as long as it takes. With `mode: 'breaker'`
   * a transaction that outlasts `timeoutMs` is abandoned (its connection destroyed: MySQL rolls it back,
   * unless its COMMIT had already arrived) and answered 503; after `failures` lost connections or
   * timeouts in a row the breaker opens and commands are answered 503 at once, with `Retry-After`.
   */
  resilience?: { mysql?: GuardOptions };
}

type CommandType = 'open-account' | 'deposit' | 'withdrawal' | 'transfer';

/** Deadlocks / lock wait timeouts are retried this often, but only while nothing has left the service. */
const maxDbAttempts = 3;

const begin: Statement = { sql: 'START TRANSACTION', params: [] };
const commit: Statement = { sql: 'COMMIT', params: [] };

export async function startCommandService(config: CommandServiceConfig): Promise<RunningService> {
  if (config.mode !== 'outbox' && config.mode !== 'direct') throw new Error(`command-service: mode must be 'outbox' or 'direct', got '${String(config.mode)}'`);
  const directOrder = config.directOrder ?? 'commit-then-produce';
  if (directOrder !== 'commit-then-produce' && directOrder !== 'produce-then-commit') throw new Error(`command-service: unknown directOrder '${String(directOrder)}'`);
  const shards = config.outboxShards ?? defaultOutboxShards;
  outboxShard('check', shards); // validates the shard count at start, not on the first request

  const logger = createLogger('command-service', config.logLevel);
  const metrics = new ServiceMetrics('command-service');
  const commands = metrics.counter('commands_total', 'Commands by type and result (ok, replayed, or the error code)', ['type', 'result']);
  const dbQueries = metrics.counter('db_queries_total', 'SQL statements sent by the command-service');
  const eventsWritten = metrics.counter('events_written_total', 'Events written, to the outbox or produced directly', ['mode']);

  const dbRoundTrips = metrics.counter('db_round_trips_total', 'Round trips to MySQL (a batch of statements is one)');
  // multipleStatements: a command's statements go in two batches (query.ts, runBatch).
  const pool = createPool(config.mysql, config.dbConnections ?? 16, { multipleStatements: true });
  const poolQuery = countingQuery(pool, dbQueries);
  const batchCounters = { statements: dbQueries, roundTrips: dbRoundTrips };
  const publisher =
    config.mode === 'direct'
      ? new EventPublisher({
          brokers: config.kafka.brokers,
          schemaRegistryUrl: config.schemaRegistryUrl,
          topic: config.topics.events,
          clientId: `command-service-${process.pid}`,
          idempotent: config.idempotentProducer ?? true,
          logger,
        })
      : undefined;

  const mysqlOptions = config.resilience?.mysql;
  const mysqlGuard = dependencyGuard('mysql', mysqlOptions, isDatabaseUnavailable, mysqlOptions?.mode === 'breaker' ? guardMetrics(metrics, 'mysql') : {});

  const publish = async (envelopes: EventEnvelope[]) => {
    await publisher!.publish(envelopes.map((envelope) => ({ envelope })));
    eventsWritten.inc({ mode: 'direct' }, envelopes.length);
  };

  /**
   * One transaction in two round trips (three in produce-then-commit):
   *   1. BEGIN; claim the key; the plan's reads (account rows locked FOR UPDATE)
   *   2. the plan's writes; complete the key; outbox rows (outbox mode); COMMIT
   * The account lock is taken at the end of the first and held through the second, so the lock is held
   * for one round trip and the commit. The outbox rows come after the lock (version n's row gets a smaller
   * id than n+1's), and the key and the outbox rows commit with the domain change or not at all.
   */
  async function runOnce<B>(key: string, hash: string, plan: CommandPlan<B>, state: { irrevocable: boolean }, signal: AbortSignal): Promise<CommandResult<B>> {
    const connection = await pool.getConnection();
    // Abandoned by the guard's timeout (E-023): a connection stuck in a query is destroyed, not reused.
    if (signal.aborted) {
      connection.destroy();
      throw new DependencyUnavailableError('mysql', 'timeout', 0);
    }
    const abandon = () => connection.destroy();
    signal.addEventListener('abort', abandon, { once: true });
    const batch = (statements: Statement[]) => runBatch(connection, statements, batchCounters);
    let committed = false;
    try {
      let rows: unknown[];
      try {
        rows = await batch([begin, claimKey(key, hash), ...plan.reads]);
      } catch (error) {
        // The claim is the first batch's only INSERT: a duplicate there means the key is stored.
        if (isDuplicateKey(error)) throw new KeyAlreadyUsed(key);
        throw error;
      }
      const { writes, result } = plan.decide(rows.slice(2) as unknown[][]);
      const changes = [...writes, completeKey(key, { statusCode: 201, body: result.body }), ...(config.mode === 'outbox' ? insertOutboxEvents(result.envelopes, shards) : [])];
      try {
        if (config.mode === 'outbox') {
          // Inside the transaction with the lock held, nothing sent that could commit: what a crash
          // "before commit" means. The writes and COMMIT then go together; the server runs COMMIT only
          // if every write before it succeeded.
          await failpoint('command.before-commit');
          await batch([...changes, commit]);
          committed = true;
          eventsWritten.inc({ mode: 'outbox' }, result.envelopes.length);
        } else if (directOrder === 'commit-then-produce') {
          await batch([...changes, commit]);
          committed = true;
          state.irrevocable = true; // committed: a retry would apply the change twice
          try {
            await failpoint('command.after-commit-before-produce');
            await publish(result.envelopes);
          } catch (error) {
            // The dual-write problem, visible: money moved, the event is lost.
            logger.error({ err: error, eventIds: result.envelopes.map((e) => e.eventId), traceId: result.envelopes[0]?.traceId }, 'committed but produce failed: events lost');
            throw new HttpError(500, 'produce-failed', `the change committed but its events were not produced: ${(error as Error).message}`);
          }
        } else {
          // The writes must have succeeded before the produce (a refused write never reaches Kafka);
          // COMMIT comes after it, in its own round trip.
          await batch(changes);
          state.irrevocable = true; // the produce may reach Kafka even if it reports a failure
          await publish(result.envelopes);
          await failpoint('command.after-produce-before-commit');
          await batch([commit]);
          committed = true;
        }
      } catch (error) {
        // Only the account or transfer row has a primary key the client chose (ledger and outbox rows
        // are keyed by fresh event ids): a duplicate on one is the plan's 409.
        if (!committed && plan.duplicate && isDuplicatePrimaryKey(error)) throw plan.duplicate;
        throw error;
      }
      if (logger.isLevelEnabled('info')) {
        for (const envelope of result.envelopes) {
          logger.info({ eventId: envelope.eventId, traceId: envelope.traceId, eventType: envelope.eventType, aggregateId: envelope.aggregateId, aggregateVersion: envelope.aggregateVersion, mode: config.mode }, 'event written');
        }
      }
      return result;
    } catch (error) {
      // Also after a failed first batch: its BEGIN ran even when the claim did not.
      if (!committed) await connection.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      signal.removeEventListener('abort', abandon);
      connection.release(); // a no-op on a destroyed connection
    }
  }

  async function execute<B>(type: CommandType, request: FastifyRequest, reply: FastifyReply, plan: (context: CommandContext) => CommandPlan<B>) {
    const key = requireIdempotencyKey(request.headers[idempotencyKeyHeader]);
    const hash = requestHash(request.method, request.url.split('?')[0]!, request.body);
    const context: CommandContext = { traceId: traceIdOf(request) };
    try {
      for (let attempt = 1; ; attempt += 1) {
        const state = { irrevocable: false };
        try {
          // A fresh plan per attempt: new event ids, as the rolled-back attempt's never existed.
          const result = await mysqlGuard.run((signal) => runOnce(key, hash, plan(context), state, signal));
          commands.inc({ type, result: 'ok' });
          return reply.status(201).send(result.body);
        } catch (error) {
          if (attempt < maxDbAttempts && !state.irrevocable && isRetryableDbError(error)) {
            logger.warn({ err: error, attempt, traceId: context.traceId }, 'transaction failed transiently, retrying');
            await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20));
            continue;
          }
          throw error;
        }
      }
    } catch (error) {
      if (error instanceof DependencyUnavailableError) {
        // Fail fast and say when to come back, instead of holding the client while MySQL is away.
        commands.inc({ type, result: 'mysql-unavailable' });
        return reply.status(503).header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)))).send({ error: 'mysql-unavailable', reason: error.message });
      }
      if (error instanceof KeyAlreadyUsed) {
        try {
          const stored = await storedResponse(poolQuery, key, hash);
          commands.inc({ type, result: 'replayed' });
          return reply.status(stored.statusCode).header(replayedHeader, 'true').send(stored.body);
        } catch (replayError) {
          error = replayError;
        }
      }
      commands.inc({ type, result: error instanceof HttpError ? error.error : 'error' });
      throw error;
    }
  }

  const app = createHttpServer({ metrics, logger });
  /** Before the schema: the key header, and money as JSON numbers (ajv would coerce "100"). */
  const guard = (numberFields: string[]) => async (request: FastifyRequest) => {
    requireIdempotencyKey(request.headers[idempotencyKeyHeader]);
    assertJsonNumbers(request.body, numberFields);
  };

  app.post<{ Body: { accountId?: string; owner: string; currency: string } }>(
    '/accounts',
    { schema: { body: openAccountBody }, preValidation: guard([]) },
    (request, reply) => execute('open-account', request, reply, (context) => openAccount(request.body, context)),
  );
  app.post<{ Params: { id: string }; Body: { amount: number } }>(
    '/accounts/:id/deposits',
    { schema: { params: accountParams, body: amountBody }, preValidation: guard(['amount']) },
    (request, reply) => execute('deposit', request, reply, (context) => deposit(request.params.id, request.body.amount, context)),
  );
  app.post<{ Params: { id: string }; Body: { amount: number } }>(
    '/accounts/:id/withdrawals',
    { schema: { params: accountParams, body: amountBody }, preValidation: guard(['amount']) },
    (request, reply) => execute('withdrawal', request, reply, (context) => withdraw(request.params.id, request.body.amount, context)),
  );
  app.post<{ Body: { transferId?: string; fromAccountId: string; toAccountId: string; amount: number } }>(
    '/transfers',
    { schema: { body: transferBody }, preValidation: guard(['amount']) },
    (request, reply) => execute('transfer', request, reply, (context) => transfer(request.body, context)),
  );
  app.get<{ Params: { id: string } }>('/accounts/:id', { schema: { params: accountParams } }, async (request) => readAccount(poolQuery, request.params.id));

  let url: string;
  try {
    if (publisher) await publisher.connect();
    url = await listen(app, config.httpPort ?? 0);
  } catch (error) {
    await app.close().catch(() => undefined);
    await publisher?.disconnect();
    await pool.end().catch(() => undefined);
    throw error;
  }
  logger.info({ url, mode: config.mode, directOrder, shards }, 'command-service started');

  let stopping: Promise<void> | undefined;
  return {
    name: 'command',
    url,
    metrics,
    stop: () =>
      (stopping ??= (async () => {
        await app.close(); // waits for in-flight requests
        await publisher?.disconnect();
        await pool.end().catch(() => undefined);
      })()),
  };
}

/** The caller's trace id (header `trace-id`) if it is sane, else a new one. */
function traceIdOf(request: FastifyRequest): string {
  const value = request.headers[eventHeaders.traceId];
  const traceId = Array.isArray(value) ? value[0] : value;
  return traceId && /^[A-Za-z0-9_.:-]{1,64}$/.test(traceId) ? traceId : randomUUID();
}
