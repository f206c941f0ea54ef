/**
 * How the command-service talks to MySQL, counted in `db_queries_total` (statements) and
 * `db_round_trips_total`, so an experiment can compare the database cost of the patterns (outbox vs
 * direct, idempotency keys).
 * `query` (client-side escaping of `?`) rather than `execute`: bulk `VALUES ?` and `IN (?)` expand arrays,
 * and a batch of statements goes in one round trip.
 */
import type { Counter } from 'prom-client';
import type mysql from 'mysql2/promise';

export type Query = <T = mysql.RowDataPacket[]>(sql: string, params?: unknown[]) => Promise<T>;

/** One SQL statement with its `?` parameters. */
export interface Statement {
  sql: string;
  params: unknown[];
}

export function countingQuery(connection: mysql.Pool | mysql.PoolConnection, counter: Counter): Query {
  return async <T>(sql: string, params: unknown[] = []) => {
    counter.inc();
    const [result] = await connection.query(sql, params);
    return result as T;
  };
}

/**
 * Sends the statements in ONE round trip (the connection needs `multipleStatements`) and returns one
 * result per statement: rows for a SELECT, a ResultSetHeader otherwise. The server runs them in order and
 * stops at the first that fails; the error is thrown and the later statements never ran.
 *
 * Why batches: a command's transaction used to be eight round trips, six of them holding the account's
 * row lock; every round trip crosses Toxiproxy and, on a loaded machine, waits for the event loop and the
 * scheduler, and the next command on that account waits for all of it. Batched it is two.
 * Every parameter is still escaped by mysql2 (never concatenated), so batching adds no injection path.
 */
export async function runBatch(connection: mysql.PoolConnection, statements: Statement[], counters: { statements: Counter; roundTrips: Counter }): Promise<unknown[]> {
  if (statements.length === 0) return [];
  counters.statements.inc(statements.length);
  counters.roundTrips.inc();
  const [result] = await connection.query(
    statements.map((statement) => statement.sql).join(';\n'),
    statements.flatMap((statement) => statement.params),
  );
  // mysql2 returns the single result unwrapped when the text holds one statement.
  return statements.length === 1 ? [result] : (result as unknown[]);
}
