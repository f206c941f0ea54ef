/**
 * The relay's side of the outbox table: shard leases, locking a batch, marking it published, recording
 * failures, and the backlog numbers for the gauges.
 *
 * Why two kinds of lock:
 *   - GET_LOCK('<database>.outbox.<shard>', 0): a named, session-scoped lease on a whole shard. All events
 *     of one aggregate are in one shard, so while a relay holds the lease no other relay can publish any
 *     of that aggregate's events: a later batch cannot overtake an earlier one in flight, and versions
 *     reach Kafka in order. Several relays share the work shard by shard. The lease dies with the
 *     session, so a crashed relay (or a dead connection) frees its shard at once.
 *   - SELECT … FOR UPDATE SKIP LOCKED: the row locks a second relay would hit if it ever ran on the same
 *     rows (e.g. a relay configured with a different shard count); it skips them instead of waiting and
 *     publishing them again after the first relay's COMMIT.
 * The lease and the batch transaction share one dedicated connection, so a lost connection loses both
 * together (never "transaction alive, lease gone").
 */
import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { Counter } from 'prom-client';
import type { MysqlConfig } from '../../config.ts';

export interface OutboxRow {
  id: number;
  eventId: string;
  aggregateId: string;
  aggregateVersion: number;
  payload: string;
  headers: string;
}

/** MySQL/MariaDB lock names are at most 64 characters: long database names are hashed. */
export function shardLockName(database: string, shard: number): string {
  const name = `${database}.outbox.${shard}`;
  if (name.length <= 64) return name;
  return `${createHash('sha256').update(database).digest('hex').slice(0, 40)}.outbox.${shard}`;
}

/** The relay's dedicated connection: shard leases and the batch transaction. */
export class ShardSession {
  private connection?: mysql.Connection;

  constructor(
    private readonly config: MysqlConfig,
    private readonly queries: Counter,
    /** RelayConfig.batchIsolation (E-023). */
    private readonly isolation: 'repeatable-read' | 'read-committed' = 'read-committed',
  ) {}

  private async query<T>(sql: string, params: unknown[] = []): Promise<T> {
    const connection = await this.connect();
    this.queries.inc();
    const [result] = await connection.query(sql, params);
    return result as T;
  }

  private async connect(): Promise<mysql.Connection> {
    if (!this.connection) {
      // multipleStatements: a batch is three round trips (openBatch, the oldest-row check, finish), not seven.
      const connection = await mysql.createConnection({ ...this.config, connectTimeout: 5000, supportBigNumbers: true, multipleStatements: true });
      // A dead socket emits 'error' outside any query; without a listener it would crash the process.
      connection.on('error', () => {
        if (this.connection === connection) this.connection = undefined;
      });
      if (this.isolation === 'read-committed') await connection.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
      this.connection = connection;
    }
    return this.connection;
  }

  /**
   * Leases the shard and locks its oldest unpublished rows, in id (= commit order per aggregate) order:
   * one round trip (GET_LOCK, START TRANSACTION, the locking SELECT) instead of three, because each round
   * trip crosses Toxiproxy and a busy machine, and a relay that waits on them delays every event behind
   * it (the e2e bench's relay leg). Undefined when another session holds the lease; the transaction is
   * then open on nothing, and `finish` or `rollback` ends it. `@lab_leased` is a constant for the
   * optimizer: without the lease the SELECT is an "Impossible WHERE" that reads and locks no row.
   */
  async openBatch(shard: number, limit: number): Promise<OutboxRow[] | undefined> {
    const results = await this.query<unknown[]>(
      `SET @lab_leased = GET_LOCK(?, 0);
       START TRANSACTION;
       SELECT id, event_id, aggregate_id, aggregate_version, payload, headers
         FROM outbox_event
        WHERE shard = ? AND published_at IS NULL AND @lab_leased = 1
        ORDER BY id
        LIMIT ?
        FOR UPDATE SKIP LOCKED;
       SELECT @lab_leased AS leased`,
      [shardLockName(this.config.database, shard), shard, limit],
    );
    const rows = results[2] as Array<{ id: number | string; event_id: string; aggregate_id: string; aggregate_version: number | string; payload: string; headers: string }>;
    const [lease] = results[3] as Array<{ leased: number | string | null }>;
    if (Number(lease?.leased) !== 1) return undefined;
    const locked = rows.map((row) => ({
      id: Number(row.id),
      eventId: row.event_id,
      aggregateId: row.aggregate_id,
      aggregateVersion: Number(row.aggregate_version),
      payload: row.payload,
      headers: row.headers,
    }));
    if (locked.length === 0) return locked;
    // SKIP LOCKED can skip a row that is still locked by a relay that just died: MariaDB frees the dead
    // session's GET_LOCK lease before its rollback frees the row locks, so the next lease holder may see
    // v7 of an account but not v6 — and publish them in the wrong order (E-001 caught exactly this).
    // A plain (snapshot) read still sees every unpublished row: keep an aggregate's rows only when the
    // batch starts at its oldest unpublished one; the rest wait for the next pass.
    const oldest = await this.query<Array<{ aggregate_id: string; oldest: number | string }>>(
      `SELECT aggregate_id, MIN(id) AS oldest FROM outbox_event
        WHERE shard = ? AND published_at IS NULL AND aggregate_id IN (?)
        GROUP BY aggregate_id`,
      [shard, [...new Set(locked.map((row) => row.aggregateId))]],
    );
    const oldestOf = new Map(oldest.map((row) => [row.aggregate_id, Number(row.oldest)]));
    const batchStart = new Map<string, number>();
    for (const row of locked) if (!batchStart.has(row.aggregateId)) batchStart.set(row.aggregateId, row.id);
    return locked.filter((row) => batchStart.get(row.aggregateId) === oldestOf.get(row.aggregateId));
  }

  /**
   * Marks the rows published, commits and gives the lease back, in one round trip. The lease is released
   * only after COMMIT, so the next holder never sees these rows unmarked; when the UPDATE or the COMMIT
   * fails the statements after it do not run and the caller's `rollback` + `releaseLease` clean up.
   */
  async finish(shard: number, ids: number[]): Promise<void> {
    const lock = shardLockName(this.config.database, shard);
    if (ids.length) await this.query('UPDATE outbox_event SET published_at = NOW(6) WHERE id IN (?); COMMIT; DO RELEASE_LOCK(?)', [ids, lock]);
    else await this.query('COMMIT; DO RELEASE_LOCK(?)', [lock]);
  }

  async commit(): Promise<void> {
    await this.query('COMMIT');
  }

  /** No-op without a connection: a closed session already lost its leases. */
  async releaseLease(shard: number): Promise<void> {
    if (!this.connection) return;
    await this.query('DO RELEASE_LOCK(?)', [shardLockName(this.config.database, shard)]);
  }

  /** No-op without a connection: a closed session's transaction is already rolled back. */
  async rollback(): Promise<void> {
    if (!this.connection) return;
    await this.query('ROLLBACK');
  }

  /** Drops the connection (and with it any lease and open transaction). */
  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await connection.end().catch(() => connection.destroy());
  }
}

/**
 * Shards with at least one unpublished row: one cheap query, so an idle relay does not lease 16 shards
 * per poll. The (shard, published_at, id) index answers it with a loose index scan ("Using index for
 * group-by": one dive per shard), so its cost does not grow with the number of published rows.
 */
export async function pendingShards(pool: mysql.Pool, queries: Counter): Promise<Set<number>> {
  queries.inc();
  const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT DISTINCT shard FROM outbox_event WHERE published_at IS NULL');
  return new Set(rows.map((row) => Number(row.shard)));
}

/** attempts + 1 and the error, in its own short transaction (the batch's own was rolled back). */
export async function recordFailure(pool: mysql.Pool, queries: Counter, ids: number[], message: string): Promise<void> {
  if (!ids.length) return;
  queries.inc();
  await pool.query('UPDATE outbox_event SET attempts = attempts + 1, last_error = ? WHERE id IN (?) AND published_at IS NULL', [message.slice(0, 1000), ids]);
}

export async function backlog(pool: mysql.Pool): Promise<{ count: number; oldestAgeSeconds: number }> {
  const [rows] = await pool.query<mysql.RowDataPacket[]>(
    'SELECT COUNT(*) AS n, TIMESTAMPDIFF(MICROSECOND, MIN(created_at), NOW(6)) AS age_us FROM outbox_event WHERE published_at IS NULL',
  );
  const row = rows[0];
  return { count: Number(row?.n ?? 0), oldestAgeSeconds: row?.age_us == null ? 0 : Number(row.age_us) / 1e6 };
}
