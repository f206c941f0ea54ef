/**
 * The outbox backlog of every lab database, read with plain SQL (not through the relay, whose own
 * gauge stops when it dies): rows not yet published and the age of the oldest. The lab exporter
 * (lab/observability/exporter.ts) exports it to Prometheus; the console (lab/console) shows it.
 *
 *   await outboxBacklogs(pool)   // [{ database: 'e001_outbox', backlog: 3, oldestAgeSeconds: 12.5 }]
 *
 * Experiments give each arm its own database, so every schema holding an `outbox_event` table is read.
 */
import mysql from 'mysql2/promise';

export interface OutboxBacklog {
  database: string;
  backlog: number;
  /** 0 when nothing is waiting. */
  oldestAgeSeconds: number;
}

export async function outboxBacklogs(pool: mysql.Pool): Promise<OutboxBacklog[]> {
  const [schemas] = await pool.query<mysql.RowDataPacket[]>(
    "SELECT table_schema AS db FROM information_schema.tables WHERE table_name = 'outbox_event' AND table_type = 'BASE TABLE' ORDER BY table_schema",
  );
  const rows: OutboxBacklog[] = [];
  for (const { db } of schemas as Array<{ db: string }>) {
    try {
      const [result] = await pool.query<mysql.RowDataPacket[]>(
        `SELECT COUNT(*) AS backlog, COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(created_at), NOW(6)), 0) / 1e6 AS age FROM ${mysql.escapeId(db)}.outbox_event WHERE published_at IS NULL`,
      );
      const row = result[0] as { backlog: number | string; age: number | string };
      rows.push({ database: db, backlog: Number(row.backlog), oldestAgeSeconds: Math.max(0, Number(row.age)) });
    } catch (error) {
      // Dropped between the listing and the count (an arena's teardown): not an error of the reader.
      if (!/ER_NO_SUCH_TABLE|ER_BAD_DB_ERROR|doesn't exist|Unknown database/.test(String(error))) throw error;
    }
  }
  return rows;
}
