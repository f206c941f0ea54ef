/**
 * A query function bound to one connection that counts every statement in `db_queries_total`, so an
 * experiment can compare the database cost of the patterns (outbox vs direct, idempotency keys).
 * `query` (client-side escaping of `?`) rather than `execute`: bulk `VALUES ?` and `IN (?)` expand arrays.
 */
import type { Counter } from 'prom-client';
import type mysql from 'mysql2/promise';

export type Query = <T = mysql.RowDataPacket[]>(sql: string, params?: unknown[]) => Promise<T>;

export function countingQuery(connection: mysql.Pool | mysql.PoolConnection, counter: Counter): Query {
  return async <T>(sql: string, params: unknown[] = []) => {
    counter.inc();
    const [result] = await connection.query(sql, params);
    return result as T;
  };
}
