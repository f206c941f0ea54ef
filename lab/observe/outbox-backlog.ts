/**
 * The outbox backlog of every lab database, read with plain SQL (not through the relay, whose own
 * gauge stops when it dies): rows not yet published and the age of the oldest.
 *
 *   await outboxBacklogs(pool)   // [{ database: 'e001_outbox', backlog: 3, oldestAgeSeconds: 12.5 }]
 *
 * Experiments give each arm its own database, so every schema holding an `outbox_event` table is read.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';

export interface OutboxBacklog {
  database: string;
  backlog: number;
  /** 0 when nothing is waiting. */
  oldestAgeSeconds: number;
}

/** Schema names come from information_schema, not from users; still, only plain identifiers are quoted into SQL. */
const plainIdentifier = /^[A-Za-z0-9_$]{1,64}$/;

export async function outboxBacklogs(pool: Pool): Promise<OutboxBacklog[]> {
  const [schemas] = await pool.query<RowDataPacket[]>(
    "SELECT table_schema AS name FROM information_schema.tables WHERE table_name = 'outbox_event' ORDER BY table_schema",
  );
  const result: OutboxBacklog[] = [];
  for (const { name } of schemas as Array<{ name: string }>) {
    if (!plainIdentifier.test(name)) continue;
    const [rows] = await pool.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS backlog, COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(created_at), NOW(6)) / 1e6, 0) AS age FROM \`${name}\`.outbox_event WHERE published_at IS NULL`,
    ).catch(() => [[]] as unknown as [RowDataPacket[]]); // dropped meanwhile (an arena's teardown)
    const row = rows[0];
    if (row) result.push({ database: name, backlog: Number(row.backlog), oldestAgeSeconds: Math.max(0, Number(row.age)) });
  }
  return result;
}
