/** replay_audit: one row per DLQ record a replay looked at (who, why, which record, what happened). */
import type mysql from 'mysql2/promise';

export type ReplayResult = 'replayed' | 'dry-run' | 'filtered' | 'failed';

export interface ReplayAuditRow {
  replayId: string;
  operator: string;
  reason: string;
  dlqTopic: string;
  dlqPartition: number;
  dlqOffset: string;
  eventId: string | undefined;
  eventType: string | undefined;
  errorClass: string | undefined;
  targetTopic: string;
  dryRun: boolean;
  result: ReplayResult;
  detail: string | undefined;
}

/** Header values come from whoever produced the dead letter: cut them to the columns' sizes. */
const clip = (value: string | undefined, length: number) => (value === undefined ? null : value.slice(0, length));

export async function insertReplayAudit(pool: mysql.Pool, row: ReplayAuditRow): Promise<void> {
  await pool.execute(
    `INSERT INTO replay_audit
       (replay_id, operator, reason, dlq_topic, dlq_partition, dlq_offset, event_id, event_type, error_class, target_topic, dry_run, result, detail)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      row.replayId,
      row.operator,
      row.reason,
      row.dlqTopic,
      row.dlqPartition,
      row.dlqOffset,
      clip(row.eventId, 36),
      clip(row.eventType, 64),
      clip(row.errorClass, 128),
      row.targetTopic,
      row.dryRun,
      row.result,
      clip(row.detail, 1000),
    ],
  );
}
