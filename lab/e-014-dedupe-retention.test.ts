/**
 * E-014 — processed_event retention.
 *
 * Question  The dedupe table grows by one row per event forever. How young may a purge go before a replay
 *           re-applies events, and what do the three ways to purge cost with inserts running: a batched TTL
 *           DELETE, archive-then-delete, daily RANGE partitions dropped whole — and what does one forgotten
 *           open transaction do to each?
 * Setup     Replay arms: 3 accounts × (1 opening + 10 deposits) produced to a fresh topic; the real
 *           consumer-service applies them (processed_event dedupe), stops. The replay window W is the topic's
 *           retention.ms as the broker reports it (the lab's brokers: log.retention.hours 24, so W = 24 h);
 *           the dedupe rows age W/2 (an UPDATE of processed_at: the passage of time). Strategy arms: 6 past
 *           days × 5,000 dedupe rows (30,000; MariaDB 10.11 local / 11.8 containers, 2 loaded cores); keep 3
 *           days: 15,000 rows go. Two writers insert one new row at a time throughout (autocommit), their
 *           latencies recorded.
 * Fault     Replay: the group's offsets reset to the earliest after a purge with TTL W/4 (❌) or W (✅).
 *           Strategies: an open transaction that read the table (holds its shared metadata lock) while the
 *           next day's cleanup step runs, held 3 s after the step is seen waiting (or done).
 * Expected  ❌ TTL W/4 < W: every purged event is re-applied by the replay (applied_event_log has it twice,
 *              plain SQL), 0 duplicates skipped. ✅ TTL = W: nothing purged, 0 re-applied, every
 *              replayed event skipped as a duplicate.
 *           ✅ every strategy removes exactly the 15,000 old rows with inserts running; archive moves each to
 *              the archive exactly once. DELETEs are DML: the open transaction stalls nothing. Partitions: a
 *              dedupe key without the partition column is refused (1503); keyed (event_id, processed_at =
 *              NOW()) it accepts one event twice; keyed on the event's own day it refuses the second; DROP
 *              PARTITION waits for the open transaction's metadata lock and the inserts queue behind it
 *              (stall ≥ 3 s); the fix — ALTER TABLE … NOWAIT, retried with backoff until the transaction
 *              ends — stalls them less than that.
 * Numbers   reapplied, skipped; per strategy (the comparison table, one [e-014] line each and the report):
 *           removed, seconds, rows/s, insert p99 before / during the cleanup (ms), size before / after
 *           (KiB data+index after ANALYZE; KiB of .ibd files), mdlStallMs (longest insert while the
 *           open transaction met the cleanup step), fixedStallMs and refusals of the NOWAIT fix.
 */
import { randomUUID } from 'node:crypto';
import type mysql from 'mysql2/promise';
import { walletEvents, produceEvents } from './clients/event-producer.ts';
import { createArena, type Arena } from './infra/arena.ts';
import { mysqlPool } from './infra/clients.ts';
import { sleep, waitFor } from './infra/ports.ts';
import { labEnvironment } from './infra/vitest.ts';
import { atLeast, below, equals, experiment } from './kit/index.ts';
import { observeService } from './observe/service.ts';
import { caughtUp } from './observe/topic.ts';
import { percentile } from './util/statistics.ts';

const env = labEnvironment();
const [perDay, pastDays, keepDays, holdMs] = [5000, 6, 3, 3000];
const e014 = experiment({ id: 'E-014', title: 'processed_event retention', suite: 'lab/e-014',
  question: 'The dedupe table grows by one row per event forever. How young may a purge go before a replay re-applies events, and what do the three ways to purge cost with inserts running: a batched TTL DELETE, archive-then-delete, daily RANGE partitions dropped whole — and what does one forgotten open transaction do to each?',
  arena: (label) => createArena(env, `e014_${label}`, 3) });

type Row = mysql.RowDataPacket;
const errnoOf = (e: unknown) => (e as { errno?: number }).errno ?? 0;
const one = async (pool: mysql.Pool | mysql.PoolConnection, sql: string, params: unknown[] = []) => ((await pool.query<Row[]>(sql, params))[0][0] ?? {}) as Row;
const changed = async (pool: mysql.Pool | mysql.PoolConnection, sql: string, params: unknown[] = []) => (await pool.query<mysql.ResultSetHeader>(sql, params))[0].affectedRows;

/**
 * Consume; the dedupe rows age half the replay window (the topic's retention.ms, as the broker says); purge
 * rows older than `ttl` × the window; replay from the earliest offset (the records are still on the topic).
 */
async function purgeThenReplay(arena: Arena, ttl: number) {
  const { pool } = arena.database;
  const events = walletEvents(['acct-0', 'acct-1', 'acct-2'], 10);
  const topic = arena.config.topics.events;
  const groupId = `${arena.id}.projection`;
  await produceEvents(env, arena.config.topics, events);
  const consumed = async () => { await waitFor('the consumer at the end of the topic', () => caughtUp(arena.admin, groupId, topic), { timeoutMs: 90_000, intervalMs: 250 }); };
  await (await arena.start('consumer', { groupId }).then(async (c) => (await consumed(), c))).stop();
  const [config] = (await arena.admin.describeConfigs({ resources: [{ type: 2, name: topic, configNames: ['retention.ms'] }], includeSynonyms: false })).resources;
  const windowS = Number(config!.configEntries[0]!.configValue) / 1000;
  await pool.query('UPDATE processed_event SET processed_at = processed_at - INTERVAL ? SECOND', [windowS / 2]);
  const purged = await changed(pool, 'DELETE FROM processed_event WHERE processed_at < NOW(6) - INTERVAL ? SECOND', [ttl * windowS]);
  await arena.admin.resetOffsets({ groupId, topic, earliest: true });
  const replay = await arena.start('consumer', { groupId });
  await consumed();
  const reapplied = Number((await one(pool, 'SELECT COUNT(*) AS n FROM (SELECT event_id FROM applied_event_log GROUP BY event_id HAVING COUNT(*) > 1) twice')).n);
  return { events: events.length, windowHours: windowS / 3600, ttlHours: (ttl * windowS) / 3600, purged, reapplied, skipped: await observeService(replay).metric('duplicates_skipped_total') };
}

e014.arm('❌ dedupe TTL a quarter of the replay window', {
  label: 'ttl_short', caseTimeoutMs: 240_000,
  expect: { purged: equals('events'), reapplied: equals('purged'), skipped: equals(0) },
  run: ({ arena }) => purgeThenReplay(arena, 0.25),
});

e014.arm('✅ dedupe TTL = the replay window', {
  label: 'ttl_long', caseTimeoutMs: 240_000,
  expect: { purged: equals(0), reapplied: equals(0), skipped: equals('events') },
  run: ({ arena }) => purgeThenReplay(arena, 1),
});

/** Two writers inserting one row at a time until stopped; the latencies of the inserts in flight at some time in [from, to]. */
function liveInserts(pool: mysql.Pool, insert: () => [string, unknown[]]) {
  const samples: Array<{ at: number; ms: number }> = [];
  let running = true;
  const loops = Array.from({ length: 2 }, async () => {
    while (running) {
      const at = performance.now();
      await pool.query(...insert());
      samples.push({ at, ms: performance.now() - at });
      await sleep(5);
    }
  });
  return { between: (from: number, to: number) => samples.filter((s) => s.at <= to && s.at + s.ms >= from).map((s) => s.ms), stop: async () => { running = false; await Promise.all(loops); } };
}

/** KiB of data + indexes (after ANALYZE), and KiB of the table's .ibd files (one per partition) on disk. */
async function size(pool: mysql.Pool, db: string, table: string) {
  await pool.query(`ANALYZE TABLE ${table}`);
  const r = await one(pool, 'SELECT data_length + index_length AS used FROM information_schema.TABLES WHERE table_schema = DATABASE() AND table_name = ?', [table]);
  const f = await one(pool, 'SELECT SUM(FILE_SIZE) AS bytes FROM information_schema.INNODB_SYS_TABLESPACES WHERE NAME = ? OR NAME LIKE ?', [`${db}/${table}`, `${db}/${table}#P#%`.replaceAll('_', '\\_')]);
  return { used: Math.round(Number(r.used) / 1024), file: Math.round(Number(f.bytes) / 1024) };
}

type Strategy = 'ttl' | 'archive' | 'partitions';
const dayName = (day: string) => `p${day.replaceAll('-', '')}`;

async function strategyArm(arena: Arena, strategy: Strategy, log: (line: string) => void) {
  const { pool: observer, name: db } = arena.database;
  const pool = mysqlPool(env, db, { connectionLimit: 6 });
  arena.defer(() => pool.end());
  // Days as the database counts them: days[k] is k days ago (YYYY-MM-DD), days[0] today.
  const days = ((await one(observer, `SELECT ${Array.from({ length: pastDays + 2 }, (_, k) => `DATE_FORMAT(CURRENT_DATE - INTERVAL ${k} DAY, '%Y-%m-%d') AS d${k}`).join(', ')}`)) as Record<string, string>);
  const day = (k: number) => days[`d${k}`]!;
  const table = strategy === 'partitions' ? 'processed_event_by_day' : 'processed_event';
  const rule: Record<string, number> = {};
  if (strategy === 'partitions') {
    // The rule first: a unique key must hold every partitioning column (1503) …
    await observer.query('CREATE TABLE rule_check LIKE processed_event');
    rule.ruleRefused = await observer.query("ALTER TABLE rule_check PARTITION BY RANGE (UNIX_TIMESTAMP(processed_at)) (PARTITION p0 VALUES LESS THAN MAXVALUE)").then(() => 0, (e) => Number(errnoOf(e) === 1503));
    // … so keyed (event_id, processed_at = NOW()) the same event goes in twice; keyed on the event's day, once.
    await observer.query('CREATE TABLE keyed_now (event_id CHAR(36) NOT NULL, processed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (event_id, processed_at)) PARTITION BY RANGE (UNIX_TIMESTAMP(processed_at)) (PARTITION p0 VALUES LESS THAN MAXVALUE)');
    for (const _ of [1, 2]) { await observer.query("INSERT IGNORE INTO keyed_now (event_id) VALUES ('same-event')"); await sleep(2); }
    rule.sameEventTwice = Number((await one(observer, 'SELECT COUNT(*) AS n FROM keyed_now')).n);
    const bounds = Array.from({ length: pastDays }, (_, i) => pastDays - i).map((k) => `PARTITION ${dayName(day(k))} VALUES LESS THAN ('${day(k - 1)}')`);
    await observer.query(`CREATE TABLE ${table} (consumer_group VARCHAR(128) NOT NULL, event_id CHAR(36) NOT NULL,
      event_day DATE NOT NULL COMMENT 'the event''s own day (occurredAt), never NOW(): a redelivery maps to the same row',
      processed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (consumer_group, event_id, event_day))
      PARTITION BY RANGE COLUMNS (event_day) (${bounds.join(', ')}, PARTITION ${dayName(day(0))} VALUES LESS THAN (MAXVALUE))`);
    for (const _ of [1, 2]) await observer.query(`INSERT IGNORE INTO ${table} (consumer_group, event_id, event_day) VALUES ('g', 'same-event', ?)`, [day(0)]);
    rule.eventDayDedupes = Number((await one(observer, `SELECT COUNT(*) AS n FROM ${table} WHERE event_id = 'same-event'`)).n);
  } else if (strategy === 'archive') await observer.query('CREATE TABLE processed_event_archive LIKE processed_event');
  // Seed: perDay rows on each of the past days (processed that day, of events of that day).
  for (let k = 1; k <= pastDays; k += 1) {
    for (let i = 0; i < perDay; i += 2500) {
      const rows = Array.from({ length: 2500 }, (_, j) => ['g', randomUUID(), day(k), `${day(k)} ${String(Math.floor((i + j) / 180) % 24).padStart(2, '0')}:${String((i + j) % 60).padStart(2, '0')}:00.${String(j).padStart(6, '0')}`]);
      if (strategy === 'partitions') await observer.query(`INSERT INTO ${table} (consumer_group, event_id, event_day, processed_at) VALUES ?`, [rows]);
      else await observer.query(`INSERT INTO ${table} (consumer_group, event_id, processed_at) VALUES ?`, [rows.map(([g, id, , at]) => [g, id, at])]);
    }
  }
  const old = (k: number) => (strategy === 'partitions' ? [`SELECT COUNT(*) AS n FROM ${table} WHERE event_day <= ?`, [day(k)]] : [`SELECT COUNT(*) AS n FROM ${table} WHERE processed_at < ?`, [day(k - 1)]]) as [string, unknown[]];
  const expectedRemoved = Number((await one(observer, ...old(keepDays + 1))).n);
  const before = await size(observer, db, table);
  const live = liveInserts(pool, () => (strategy === 'partitions' ? [`INSERT INTO ${table} (consumer_group, event_id, event_day) VALUES ('g', ?, ?)`, [randomUUID(), day(0)]] : [`INSERT INTO ${table} (consumer_group, event_id) VALUES ('g', ?)`, [randomUUID()]]));
  arena.defer(() => live.stop());
  /** One cleanup step: everything older than `k` days — DELETE batches, archive batches, or the partitions dropped. */
  const clean = async (k: number, ddl = '') => {
    if (strategy === 'partitions') {
      const drop = Array.from({ length: pastDays - k + 1 }, (_, i) => dayName(day(k + i))).filter((p) => partitions.has(p));
      await pool.query(`ALTER TABLE ${table} ${ddl} DROP PARTITION ${drop.join(', ')}`);
      return void drop.forEach((p) => partitions.delete(p));
    }
    for (let moved = 1000; moved === 1000;) {
      if (strategy === 'ttl') moved = await changed(pool, `DELETE FROM ${table} WHERE processed_at < ? ORDER BY processed_at LIMIT 1000`, [day(k - 1)]);
      else {
        const c = await pool.getConnection();
        try {
          await c.beginTransaction();
          // The batch's keys first, locked: the copy and the delete then name exactly the same rows.
          const [keys] = await c.query<Row[]>(`SELECT consumer_group, event_id FROM ${table} WHERE processed_at < ? ORDER BY processed_at LIMIT 1000 FOR UPDATE`, [day(k - 1)]);
          const batch = keys.map((r) => [r.consumer_group, r.event_id]);
          const copied = batch.length && (await changed(c, `INSERT INTO processed_event_archive SELECT * FROM ${table} WHERE (consumer_group, event_id) IN (?)`, [batch]));
          moved = batch.length && (await changed(c, `DELETE FROM ${table} WHERE (consumer_group, event_id) IN (?)`, [batch]));
          if (copied !== moved || moved !== batch.length) throw new Error(`archive batch of ${batch.length}: copied ${copied}, deleted ${moved}`);
          await c.commit();
        } finally { await c.rollback().catch(() => undefined); c.release(); }
      }
    }
  };
  const partitions = new Set(Array.from({ length: pastDays }, (_, i) => dayName(day(i + 1))));
  await sleep(1000); // the writers' baseline
  const started = performance.now();
  await clean(keepDays + 1);
  const ended = performance.now();
  const seconds = (ended - started) / 1000;
  const after = await size(observer, db, table);
  const removed = expectedRemoved - Number((await one(observer, ...old(keepDays + 1))).n);
  const archive: Record<string, number> = strategy === 'archive' ? { archived: Number((await one(observer, 'SELECT COUNT(*) AS n FROM processed_event_archive')).n), inBoth: Number((await one(observer, 'SELECT COUNT(*) AS n FROM processed_event_archive a JOIN processed_event p USING (consumer_group, event_id)')).n) } : {};

  /** The next night's step (down to day k) meets a transaction that read the table and stays open. */
  const blocked = async (k: number, ddl = '') => {
    const blocker = await pool.getConnection();
    try {
      await blocker.beginTransaction();
      await blocker.query(`SELECT COUNT(*) FROM ${table} WHERE event_id = 'nothing'`); // a shared metadata lock until COMMIT
      const from = performance.now();
      let refused = 0;
      const step = (async () => { for (;;) { try { return await clean(k, ddl); } catch (e) { if (!ddl || errnoOf(e) !== 1205) throw e; refused += 1; await sleep(200 + Math.random() * 300); } } })();
      if (strategy === 'partitions' && !ddl) {
        await waitFor('DROP PARTITION waiting for the metadata lock and an insert queued behind it', async () => {
          const [rows] = await observer.query<Row[]>("SELECT INFO AS q FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE = 'Waiting for table metadata lock'", [db]);
          return rows.some((r) => /^ALTER/.test(String(r.q))) && rows.some((r) => /^INSERT/.test(String(r.q)));
        }, { timeoutMs: 20_000, intervalMs: 50 });
      } else if (!ddl) await step;
      await sleep(holdMs);
      await blocker.commit();
      await step;
      await sleep(200);
      return { stall: Math.round(Math.max(...live.between(from, performance.now()))), refused };
    } finally { await blocker.rollback().catch(() => undefined); blocker.release(); }
  };
  const naive = await blocked(keepDays);
  const fixed = strategy === 'partitions' ? await blocked(keepDays - 1, 'NOWAIT') : undefined;
  await live.stop();
  const numbers: Record<string, number> = {
    expectedRemoved, removed, seconds: Number(seconds.toFixed(2)), rowsPerS: Math.round(removed / seconds),
    insertP99Before: Math.round(percentile(live.between(started - 1000, started), 99)), insertP99During: Math.round(percentile(live.between(started, ended), 99)),
    insertsDuring: live.between(started, ended).length, sizeBeforeKiB: before.used, sizeAfterKiB: after.used, fileBeforeKiB: before.file, fileAfterKiB: after.file,
    mdlStallMs: naive.stall, ...(fixed ? { fixedStallMs: fixed.stall, refusals: fixed.refused } : {}), ...rule, ...archive,
  };
  if (strategy === 'ttl') log(`| strategy | ${Object.keys(numbers).join(' | ')} |  (one line per strategy arm)`);
  log(`| ${strategy} | ${Object.entries(numbers).map(([k, v]) => `${k} ${v}`).join(' | ')} |`);
  return numbers;
}

const removesAll = { removed: equals('expectedRemoved'), expectedRemoved: equals(perDay * (pastDays - keepDays)) };
e014.arm('✅ batched TTL DELETE (1,000 rows a statement)', {
  label: 'ttl', caseTimeoutMs: 240_000,
  expect: { ...removesAll, mdlStallMs: below(holdMs) }, sometimes: { insertsDuring: atLeast(1) },
  run: ({ arena, log }) => strategyArm(arena, 'ttl', log),
});
e014.arm('✅ archive then delete (1,000 rows a transaction)', {
  label: 'archive', caseTimeoutMs: 240_000,
  expect: { ...removesAll, archived: equals('removed'), inBoth: equals(0), mdlStallMs: below(holdMs) }, sometimes: { insertsDuring: atLeast(1) },
  run: ({ arena, log }) => strategyArm(arena, 'archive', log),
});
e014.arm('✅ daily RANGE partitions on the event day, DROP PARTITION (NOWAIT, retried)', {
  label: 'partitions', caseTimeoutMs: 240_000,
  expect: { ...removesAll, ruleRefused: equals(1), sameEventTwice: equals(2), eventDayDedupes: equals(1), mdlStallMs: atLeast(holdMs), fixedStallMs: below(holdMs) },
  sometimes: { insertsDuring: atLeast(1), refusals: atLeast(1) },
  run: ({ arena, log }) => strategyArm(arena, 'partitions', log),
});
