/**
 * The contract of the system under test: everything `lab/` and `bench/` may use from `src/`, and
 * nothing else (test/unit/boundaries.test.ts fails on an import of any other src/ file).
 *
 *   import { topicNames, eventHeaders, newEnvelope, startService, type ServiceConfigs } from '../src/contract.ts';
 *
 *   const topics = topicNames(`${id}.`);                                 // <id>.wallet.events, .retry-N, .dlq
 *   const consumer = await startService('consumer', { ...common, groupId: `${id}.projection` });
 *   await consumer.stop();
 *   // as its own OS process (so it can be SIGKILLed): lab/infra/services.ts startServiceProcess('consumer', …)
 *
 * Why a contract: the lab proves claims about the services from the outside — their HTTP APIs, the
 * topics and headers they write, the tables and cache entries other components read. A suite that
 * reaches into a service's modules tests the implementation instead of the behaviour and breaks on every
 * refactoring. This file only re-exports from the real modules (no logic lives here); each section says
 * why its names are part of the contract. A name missing here is one the lab must observe from outside
 * (SQL, a topic reader, /metrics, /failpoints) instead.
 */

// ── The services: names, config types, starting them ─────────────────────────────────────────────────
// A suite configures a service (the ❌ arms are config switches) and starts it in process or as a process.
export type { CommonConfig, MysqlConfig, RedisConfig } from './config.ts';
export type { CommandServiceConfig } from './services/command/index.ts';
export type { RelayConfig } from './services/relay/index.ts';
export type { ConsumerConfig } from './services/consumer/config.ts';
export type { QueryServiceConfig } from './services/query/index.ts';
export type { BalanceCacheOptions, PopulateMode } from './cache/balance-cache.ts';
export type { ReplayWorkerConfig, ReplayReport, ReplayResult } from './services/replay/index.ts';
export type { NotificationGatewayConfig } from './services/notification-gateway/index.ts';
export type { BackfillConfig } from './services/backfill/index.ts';
export type { RunningService } from './services/service.ts';
export { isServiceName, serviceNames, startService, type ServiceConfigs, type ServiceName } from './services/index.ts';
/** The process entry (`npx lab service <name>`). */
export { runService } from './services/main.ts';

// ── Topics ───────────────────────────────────────────────────────────────────────────────────────────
// The topic names the services derive from one prefix, and creating topics the way the services expect
// them (every partition led before the first produce: see createTopicsAndWait's note on KRaft).
export { createTopicsAndWait, ensureTopics, topicNames, type CreateTopicsOptions, type TopicNames } from './kafka/topics.ts';
// How the services publish records one at a time (a lab test pins why it replaces a failed producer).
export { RenewingProducer } from './kafka/renewing-producer.ts';

// ── Headers ──────────────────────────────────────────────────────────────────────────────────────────
// What an event record and a retry/DLQ record carry besides the value: observers read them, producers
// that stand in for the relay write them.
export { envelopeHeaders, eventHeaders, failureHeaders, readHeaders, type KafkaHeaders } from './kafka/headers.ts';

// ── The envelope ─────────────────────────────────────────────────────────────────────────────────────
// The value of an event record: building one, encoding/decoding it (Confluent wire format, Avro through
// the registry), and `frame` to write poison on purpose (a bad schema id, a truncated body). The Avro
// options and the serde's schema resolution stay inside.
export type { EventEnvelope, WalletEventPayload, WalletEventType } from './envelope/envelope.ts';
export { envelopeSchema, newEnvelope } from './envelope/envelope.ts';
export { EnvelopeSerde } from './envelope/serde.ts';
export { InMemorySchemaSource, RegistrySchemaSource, type SchemaSource } from './envelope/schema-source.ts';
export { EnvelopeDecodeError, type DecodeFailure } from './envelope/errors.ts';
export { frame } from './envelope/wire-format.ts';

// ── The database schema, and the tables other components read ────────────────────────────────────────
// `migrate` applies sql/ to a suite's fresh database. The outbox table is the interface between the
// command-service and the relay: tests and the bench seed it with `outboxRow` exactly as the service
// writes it, and `outboxShard` says which relay lease covers an account (a workload that wants its
// accounts on distinct leases picks them with it). `requestHash` is the idempotency_keys row's request
// hash (a key replayed with another body is refused): the bench's bare-SQL baseline writes that row.
export { migrate } from './db/migrate.ts';
export { defaultOutboxShards, outboxRow, outboxShard } from './services/command/outbox.ts';
export { requestHash } from './services/command/request-hash.ts';
// The services' pool settings and which MySQL errors they retry (deadlock, lock wait timeout): a
// baseline that mirrors a service's transaction must connect and retry as it does.
export { createPool, isRetryableDbError } from './db/pool.ts';
// How a transaction that meets lock contention is run (E-019): locks in one order, the whole transaction
// retried with backoff on a retryable error, RetriesExhaustedError for the caller to park (a DLQ).
export { inTransaction } from './db/pool.ts';
export { defaultTransactionRetryPolicy, inLockOrder, retryTransaction, RetriesExhaustedError, type RetryHooks, type TransactionRetryPolicy } from './db/transaction-retry.ts';

// ── The cache ────────────────────────────────────────────────────────────────────────────────────────
// The Redis key of an account's balance and its entry (version-stamped JSON): the cache = DB checker
// reads entries, cache experiments seed stale ones. Writes go through the same versioned protocol the
// consumer and the query-service use (set-if-newer is a Lua script: no lab copy of it).
export { balanceKey, getBalance, invalidateBalance, setBalance, setBalanceIfNewer, type CachedBalance, type InvalidationMode } from './cache/balance-store.ts';
// The query-service's read path itself (cache-aside with its populate mode and defenses), for an experiment
// that must step a reader between its DB read and its populate (E-013 drives it under fast-check's
// scheduler through the injected `load`); the service wraps exactly this class around its SELECT.
export { BalanceCache, type BalanceRead } from './cache/balance-cache.ts';

// ── Failpoints ───────────────────────────────────────────────────────────────────────────────────────
// Their names (a typed list: a misspelt failpoint is a type error), the spec syntax's types, what
// GET /failpoints reports, and the process-wide registry for services started in the test's own process
// (a service process is armed through LAB_FAILPOINTS or its HTTP API instead: lab/nemesis, lab/observe).
export { failpointNames, type FailpointName } from './failpoints/names.ts';
export { failpoints, type FailpointSpec, type FailpointStat, type FailpointStats } from './failpoints/failpoints.ts';

// ── Resilience (E-023) ───────────────────────────────────────────────────────────────────────────────
// The options of a dependency guard (timeout + circuit breaker) a service config takes for Redis or
// MySQL (`resilience: { redis }` of the query-service, `resilience: { mysql }` of the command-service).
export type { BreakerState, GuardOptions, ResilienceMode } from './resilience/index.ts';
