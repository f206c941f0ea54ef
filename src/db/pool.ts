/** The services' MySQL pool, with a query counter for the `db_queries_total` metric. */
import mysql from 'mysql2/promise';
import type { MysqlConfig } from '../config.ts';

export function createPool(config: MysqlConfig, connectionLimit = 10, options: { multipleStatements?: boolean } = {}): mysql.Pool {
  return mysql.createPool({ ...config, connectionLimit, connectTimeout: 5000, supportBigNumbers: true, bigNumberStrings: false, dateStrings: false, ...options });
}

/** MySQL error numbers the services treat as transient: retrying the transaction can succeed. */
export const retryableMysqlErrors = new Set([
  // MariaDB ≥ 11.6 (innodb_snapshot_isolation on by default; Debian 13 ships 11.8): a locking read or
  // write of a row another transaction changed after this one's snapshot fails the statement instead
  // of acting on the newer row. A serialization failure: on a retry the transaction sees the row. (The
  // containers provider runs 11.8, the local one Debian 12's 10.11: command-service's transfer-id race
  // answered 500 there.)
  1020, // ER_CHECKREAD "Record has changed since last read"
  1205, // ER_LOCK_WAIT_TIMEOUT
  1213, // ER_LOCK_DEADLOCK
  2006, // CR_SERVER_GONE_ERROR
  2013, // CR_SERVER_LOST
]);

export function isRetryableDbError(error: unknown): boolean {
  const e = error as { errno?: number; code?: string };
  if (e?.errno !== undefined && retryableMysqlErrors.has(e.errno)) return true;
  return ['ECONNREFUSED', 'ECONNRESET', 'PROTOCOL_CONNECTION_LOST', 'ETIMEDOUT', 'EPIPE'].includes(e?.code ?? '');
}

export function isDuplicateKey(error: unknown): boolean {
  return (error as { errno?: number })?.errno === 1062;
}

/** A duplicate on a table's primary key (not a secondary unique key). MySQL 8 names it `<table>.PRIMARY`. */
export function isDuplicatePrimaryKey(error: unknown): boolean {
  return isDuplicateKey(error) && /for key '(?:[^'.]+\.)?PRIMARY'/.test(String((error as { sqlMessage?: string }).sqlMessage ?? ''));
}

/** Runs `work` in a transaction on one connection; rolls back on any error. */
export async function inTransaction<T>(pool: mysql.Pool, work: (connection: mysql.PoolConnection) => Promise<T>): Promise<T> {
  const connection = await pool.getConnection();
  try {
    await connection.beginTransaction();
    const result = await work(connection);
    await connection.commit();
    return result;
  } catch (error) {
    await connection.rollback().catch(() => undefined);
    throw error;
  } finally {
    connection.release();
  }
}
