/**
 * The statements MariaDB executed, as MariaDB itself logged them (its general log, written to the table
 * mysql.general_log): an observer of DB load that shares no code with the service whose queries it counts
 * (E-008 counts the query-service's reads per cache expiry with it, not with the service's own metric).
 *
 *   const log = await openStatementLog(arena.database.pool);   // general log on, to the table
 *   …                                                          // the load
 *   const done = await log.executed('account_balance_view', since);   // [{ at: epoch ms, text }]
 *   await log.close();                                         // general log off again, table emptied
 *
 * The general log is server-wide: the cluster's one MariaDB logs every client while it is on, so a suite
 * opens it for its own window and closes it (arena.defer) even when it fails. Only prepared statements
 * executed (`Execute`, what mysql2's `execute` sends, with the parameters filled in) are counted: the
 * observer's own `Query` reading the log would otherwise match its own text.
 */
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2';

export interface StatementLog {
  /** Each prepared statement executed since `sinceMs` whose text contains `fragment`: when (epoch ms, the DB's clock, µs precision) and its text. */
  executed(fragment: string, sinceMs?: number): Promise<Array<{ at: number; text: string }>>;
  close(): Promise<void>;
}

export async function openStatementLog(pool: mysql.Pool): Promise<StatementLog> {
  const [[before]] = await pool.query<RowDataPacket[]>('SELECT @@global.log_output AS output, @@global.general_log AS enabled');
  await pool.query("SET GLOBAL log_output = 'TABLE'");
  await pool.query('SET GLOBAL general_log = 1');
  let closed: Promise<void> | undefined;
  return {
    executed: async (fragment, sinceMs = 0) => {
      const [rows] = await pool.query<RowDataPacket[]>(
        "SELECT UNIX_TIMESTAMP(event_time) * 1000 AS t, argument FROM mysql.general_log WHERE command_type = 'Execute' AND event_time >= FROM_UNIXTIME(?) AND INSTR(argument, ?) > 0",
        [sinceMs / 1000, fragment],
      );
      return rows.map((r) => ({ at: Number(r.t), text: String(r.argument) }));
    },
    close: () =>
      (closed ??= (async () => {
        await pool.query(`SET GLOBAL general_log = ${Number(before!.enabled) ? 1 : 0}`);
        await pool.query('SET GLOBAL log_output = ?', [String(before!.output)]);
        if (!Number(before!.enabled)) await pool.query('TRUNCATE TABLE mysql.general_log');
      })()),
  };
}
