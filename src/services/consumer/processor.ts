/**
 * Applying one event: decode, validate, one DB transaction (dedupe + projection + side effect), then
 * the cache. Throws on any failure; the caller classifies and routes (retry topic / DLQ).
 *
 * Idempotent mode, in ONE transaction:
 *   INSERT processed_event (group, event id)   → duplicate key (1062) = already applied: roll back, skip
 *   apply the projection + applied_event_log row
 *   POST the notification with Idempotency-Key = event id
 *   COMMIT
 * The dedupe is the unique-key INSERT itself, not "SELECT, then INSERT if absent": under REPEATABLE
 * READ a plain SELECT reads the transaction's snapshot and takes no lock, so two consumers handling the
 * same event at once (a rebalance overlap, a redelivery racing the original) would both see "absent"
 * and both apply. The INSERT takes the row lock: the second waits for the first, then gets 1062.
 *
 * The notification is sent before COMMIT, so a crash between the two redelivers an event whose side
 * effect already happened; the Idempotency-Key is what makes the repeat harmless at the provider.
 * Naive mode (E-003 anti-pattern) skips processed_event and the key, so a redelivery applies twice.
 *
 * Batches (the default of the idempotent consumer, index.ts): `applyBatch` applies a run of prepared
 * events of one partition in ONE transaction (batch-plan.ts, batch-apply.ts) with the same effects as
 * applying them one by one: processed_event rows, the projection, applied_event_log rows, notifications
 * before COMMIT, the cache after it. Whatever is not the plain case (a duplicate, a gap, an unknown
 * account, a failed statement) throws, and the caller applies those records one by one with `apply`.
 * The failpoints keep their per-record meaning: each is evaluated once per event of the batch.
 *
 * Idempotent mode also refuses to apply over a version gap (projection.ts, VersionGapError): an account's
 * event v applies only on top of v-1, so an event lost upstream stops its account loudly instead of
 * leaving projection ≠ domain with lag 0.
 */
import type mysql from 'mysql2/promise';
import pLimit from 'p-limit';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { invalidateBalance, type InvalidationMode } from '../../cache/balance-store.ts';
import { inTransaction, isDuplicateKey } from '../../db/pool.ts';
import type { EnvelopeSerde } from '../../envelope/serde.ts';
import type { EventEnvelope } from '../../envelope/envelope.ts';
import { failpoint } from '../../failpoints/failpoints.ts';
import { applyBatchChanges, BatchConflict } from './batch-apply.ts';
import { planBatch } from './batch-plan.ts';
import type { ConsumerMetrics } from './metrics.ts';
import type { Notifier } from './notifier.ts';
import { applyToProjection, validateEvent, VersionGapError, type ProjectedBalance, type Query } from './projection.ts';

export type Outcome = { result: 'applied'; envelope: EventEnvelope; balance?: ProjectedBalance } | { result: 'duplicate'; envelope: EventEnvelope };

export { BatchConflict } from './batch-apply.ts';

class AlreadyProcessed extends Error {}

/** Notifications of one batch in flight at once (each carries its own Idempotency-Key). */
const notificationConcurrency = 8;

export interface ProcessorDeps {
  pool: mysql.Pool;
  serde: EnvelopeSerde;
  metrics: ConsumerMetrics;
  logger: Logger;
  groupId: string;
  mode: 'idempotent' | 'naive';
  notifier?: Notifier;
  cache?: { redis: Redis; keyPrefix: string; mode: InvalidationMode; ttlMs: number };
}

export class EventProcessor {
  private readonly query: Query;

  constructor(private readonly deps: ProcessorDeps) {
    this.query = async (connection, sql, params) => {
      deps.metrics.dbQueries.inc();
      const [result] = await connection.query(sql, params);
      return result as mysql.ResultSetHeader & mysql.RowDataPacket[];
    };
  }

  /** Decodes and applies one record value. Throws EnvelopeDecodeError / PoisonEventError / transient errors. */
  async process(value: Buffer | null): Promise<Outcome> {
    return this.apply(await this.prepare(value));
  }

  /** Decode and business validation (no database): the part of processing that can fail as poison up front. */
  async prepare(value: Buffer | null): Promise<EventEnvelope> {
    await failpoint('consumer.apply');
    const envelope = await this.deps.serde.decode(value);
    validateEvent(envelope);
    return envelope;
  }

  /** Applies one prepared event in its own transaction. */
  async apply(envelope: EventEnvelope): Promise<Outcome> {
    const { deps } = this;
    const log = deps.logger.child({ eventId: envelope.eventId, traceId: envelope.traceId });
    let balance: ProjectedBalance | undefined;
    try {
      balance = await inTransaction(deps.pool, async (connection) => {
        if (deps.mode === 'idempotent') {
          try {
            await this.query(connection, 'INSERT INTO processed_event (consumer_group, event_id) VALUES (?, ?)', [deps.groupId, envelope.eventId]);
          } catch (error) {
            if (isDuplicateKey(error)) throw new AlreadyProcessed();
            throw error;
          }
        }
        const projected = await applyToProjection(this.query, connection, envelope, deps.groupId, { gapCheck: deps.mode === 'idempotent', readBalance: this.versionedCache });
        await failpoint('consumer.inside-projection-tx');
        if (deps.notifier) {
          const sent = await deps.notifier.notify(envelope);
          log.debug({ duplicate: sent.duplicate }, 'notification sent');
        }
        await failpoint('consumer.after-side-effect-before-commit');
        return projected;
      });
    } catch (error) {
      if (error instanceof VersionGapError) {
        deps.metrics.versionGaps.inc();
        log.warn({ accountId: error.accountId, appliedVersion: error.applied, eventVersion: error.version }, 'version gap: not applied over missing versions; retried, then DLQ');
      }
      if (error instanceof AlreadyProcessed) {
        deps.metrics.duplicates.inc();
        log.info('duplicate skipped: already in processed_event');
        // A redelivery usually means the previous attempt died after its commit — possibly before it
        // invalidated the cache. Invalidate again (idempotent), or that entry stays stale until its TTL.
        await this.invalidate(envelope.aggregateId, log);
        return { result: 'duplicate', envelope };
      }
      throw error;
    }
    this.count(envelope);
    log.debug({ accountId: envelope.aggregateId, version: envelope.aggregateVersion }, 'applied');

    await failpoint('consumer.after-commit-before-invalidate');
    // After the commit, never before: invalidating first would let a reader repopulate the old value.
    await this.invalidate(envelope.aggregateId, log, balance);
    return { result: 'applied', envelope, ...(balance ? { balance } : {}) };
  }

  /**
   * Applies prepared events of one partition, in order, in ONE transaction (idempotent mode only).
   * Throws BatchConflict when the batch is not the plain case, or any error of the transaction; nothing
   * is applied then, and the caller applies the records one by one.
   */
  async applyBatch(envelopes: readonly EventEnvelope[]): Promise<void> {
    const { deps } = this;
    if (deps.mode !== 'idempotent') throw new Error('batch apply needs the idempotent consumer (processed_event dedupe)');
    const plan = planBatch(envelopes);
    if ('conflict' in plan) throw new BatchConflict(plan.conflict);
    const balances = await inTransaction(deps.pool, async (connection) => {
      const read = await applyBatchChanges(this.query, connection, { groupId: deps.groupId, envelopes, changes: plan.changes, readBalances: this.versionedCache });
      for (const _ of envelopes) await failpoint('consumer.inside-projection-tx');
      if (deps.notifier) {
        const notifier = deps.notifier;
        const limit = pLimit(notificationConcurrency);
        await Promise.all(envelopes.map((envelope) => limit(() => notifier.notify(envelope))));
      }
      for (const _ of envelopes) await failpoint('consumer.after-side-effect-before-commit');
      return read;
    });
    for (const envelope of envelopes) this.count(envelope);
    if (deps.logger.isLevelEnabled('debug')) deps.logger.debug({ events: envelopes.length, accounts: plan.changes.length, eventIds: envelopes.map((e) => e.eventId) }, 'batch applied');

    for (const _ of envelopes) await failpoint('consumer.after-commit-before-invalidate');
    const byAccount = new Map(balances?.map((balance) => [balance.accountId, balance]));
    await Promise.all(plan.changes.map((change) => this.invalidate(change.accountId, deps.logger, byAccount.get(change.accountId))));
  }

  private get versionedCache(): boolean {
    return this.deps.cache?.mode === 'versioned';
  }

  private count(envelope: EventEnvelope): void {
    this.deps.metrics.applied.inc({ event_type: envelope.eventType });
    this.deps.metrics.e2eLatency.observe(Math.max(0, Date.now() - envelope.occurredAt) / 1000);
  }

  /**
   * Invalidates one account's cache entry. `versioned` mode writes the projection's current value, read
   * here when the caller has none (a duplicate). A failure leaves the entry stale until its TTL; the
   * event is applied, so it is logged, not retried.
   */
  private async invalidate(accountId: string, log: ProcessorDeps['logger'], known?: ProjectedBalance): Promise<void> {
    const cache = this.deps.cache;
    if (!cache || cache.mode === 'none') return;
    try {
      let current = known;
      if (!current && cache.mode === 'versioned') {
        const [rows] = await this.deps.pool.query<mysql.RowDataPacket[]>('SELECT account_id, balance, version FROM account_balance_view WHERE account_id = ?', [accountId]);
        this.deps.metrics.dbQueries.inc();
        const row = rows[0];
        if (!row) return;
        current = { accountId, balance: Number(row.balance), version: Number(row.version) } as ProjectedBalance;
      }
      await invalidateBalance(cache.redis, cache.keyPrefix, cache.mode, current ?? ({ accountId, balance: 0, version: 0 } as ProjectedBalance), cache.ttlMs);
    } catch (error) {
      log.warn({ err: error, accountId }, 'cache invalidation failed; entry stale until TTL');
    }
  }
}
