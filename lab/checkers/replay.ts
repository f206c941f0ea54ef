/**
 * Replay-job checker: did one controlled replay of the DLQ do what the operator asked, and no more?
 *
 *   const v = checkReplayJob(job, { report, audit: await replayAudit(pool, report.replayId), published });
 *   v.valid; v.counts.rateRatio                  // measured rate / limit (≤ 1)
 *
 * `job.results` says, per dead letter, what the job should do with it: 'replayed', 'filtered' or
 * 'dry-run'. Anomalies:
 *   report     the worker's report disagrees (mode, scanned, replayed, filtered, dry-run, failed)
 *   audit      a dead letter without exactly one audit row with its expected result, operator, reason
 *              and dry-run flag, or a row for a record the job should not have seen
 *   published  a record to replay not re-published exactly once, or one re-published that was not
 *   rate       the worker's measured rate above the limit; the job shorter than the spacing of its
 *              publishes; the records' own timestamps closer together than 3/4 of it (they are set by
 *              the client when it encodes a request, so a first send's metadata fetch or a GC pause
 *              jitters them: a missing limiter would publish them all within a few ms)
 * Pure: the suite gathers the report (POST /replays), the audit rows (SQL) and the re-published records.
 */
import { verdict, type Verdict } from './verdict.ts';

export type ReplayResult = 'replayed' | 'filtered' | 'dry-run';

export interface ReplayJobExpectation {
  operator: string;
  reason: string;
  dryRun: boolean;
  ratePerSecond: number;
  /** Every dead letter (event id) and what the job should do with it. */
  results: ReadonlyMap<string, ReplayResult>;
}

export interface ReplayJobObservation {
  report: { mode: string; scanned: number; replayed: number; filtered: number; dryRun: number; failed: number; durationMs: number; ratePerSecond: number };
  audit: Array<{ eventId: string; result: string; operator: string; reason: string; dryRun: boolean }>;
  /** The records on the events topic carrying this job's replay id (epoch-ms timestamps). */
  published: Array<{ eventId: string | undefined; timestamp: number }>;
}

export function checkReplayJob(job: ReplayJobExpectation, o: ReplayJobObservation): Verdict {
  const selected = [...job.results].filter(([, r]) => r !== 'filtered').map(([id]) => id);
  const toPublish = job.dryRun ? [] : selected;
  const count = (result: ReplayResult) => [...job.results.values()].filter((r) => r === result).length;
  const wantReport = { mode: job.dryRun ? 'dry-run' : 'replay', scanned: job.results.size, replayed: count('replayed'), filtered: count('filtered'), dryRun: count('dry-run'), failed: 0 };
  const report = Object.entries(wantReport)
    .filter(([name, value]) => o.report[name as keyof typeof wantReport] !== value)
    .map(([name, value]) => ({ field: name, reported: o.report[name as keyof typeof wantReport], expected: value }));

  const audit: unknown[] = [];
  const rows = new Map<string, ReplayJobObservation['audit']>();
  for (const row of o.audit) rows.set(row.eventId, [...(rows.get(row.eventId) ?? []), row]);
  for (const [eventId, result] of job.results) {
    const mine = rows.get(eventId) ?? [];
    const wrong = mine.filter((r) => r.result !== result || r.operator !== job.operator || r.reason !== job.reason || r.dryRun !== job.dryRun);
    if (mine.length !== 1 || wrong.length) audit.push({ eventId, expected: result, rows: mine });
  }
  for (const eventId of rows.keys()) if (!job.results.has(eventId)) audit.push({ eventId, unexpectedRow: true });

  const copies = new Map<string, number>();
  for (const r of o.published) copies.set(r.eventId ?? '', (copies.get(r.eventId ?? '') ?? 0) + 1);
  const published = [
    ...toPublish.filter((id) => copies.get(id) !== 1).map((id) => ({ eventId: id, copies: copies.get(id) ?? 0 })),
    ...[...copies.keys()].filter((id) => !toPublish.includes(id)).map((id) => ({ eventId: id, notSelected: true })),
  ];

  const spacingMs = 1000 / job.ratePerSecond;
  const minimumMs = Math.max(0, toPublish.length - 1) * spacingMs;
  const stamps = o.published.map((r) => r.timestamp);
  const spanMs = stamps.length > 1 ? Math.max(...stamps) - Math.min(...stamps) : 0;
  const rate: unknown[] = [];
  if (o.report.ratePerSecond > job.ratePerSecond) rate.push({ measured: o.report.ratePerSecond, limit: job.ratePerSecond });
  if (o.report.durationMs < minimumMs) rate.push({ durationMs: o.report.durationMs, minimumMs });
  if (spanMs < 0.75 * minimumMs) rate.push({ timestampSpanMs: spanMs, minimumMs: 0.75 * minimumMs });

  return verdict('replay job', { report, audit, published, rate }, {
    measuredRate: o.report.ratePerSecond,
    // (n − 1) intervals over the span of the records' own timestamps.
    observedRate: stamps.length > 1 ? ((stamps.length - 1) * 1000) / Math.max(1, spanMs) : 0,
    rateRatio: o.report.ratePerSecond / job.ratePerSecond,
  });
}
