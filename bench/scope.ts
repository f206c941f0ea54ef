/**
 * One repetition's own world: a fresh migrated database and fresh topics under one isolation id, removed
 * in `finally` whatever happened. A repetition never sees the rows, offsets or consumer groups of the one
 * before it, so repetition 3 does not drain a bigger table or a warmer topic than repetition 1.
 */
import type { Admin } from 'kafkajs';
import type { RowDataPacket } from 'mysql2';
import { ensureTopics, topicNames, type CommonConfig, type TopicNames } from '../src/contract.ts';
import { kafka } from '../lab/infra/clients.ts';
import type { LabEnvironment } from '../lab/infra/environment.ts';
import { deleteTopicsWithPrefix, isolationId, type IsolatedDatabase } from '../lab/infra/isolation.ts';
import { commonConfig, createMigratedDatabase } from '../lab/infra/services.ts';

/** Partitions of every bench topic (the services' default topic layout). */
export const benchPartitions = 6;

export interface Scope {
  id: string;
  database: IsolatedDatabase;
  admin: Admin;
  /** Services' config on this scope's database and its `<id>.` topics (created). */
  config: CommonConfig;
  /** Another topic set under `<id>.<name>.`, created (for a raw client beside the service). */
  topics(name: string): Promise<TopicNames>;
}

export async function withScope<T>(env: LabEnvironment, name: string, run: (scope: Scope) => Promise<T>): Promise<T> {
  const id = isolationId(env, name);
  const admin = kafka(env, `${id}-admin`).admin();
  let database: IsolatedDatabase | undefined;
  try {
    await admin.connect();
    database = await createMigratedDatabase(env, id);
    const config = commonConfig(env, { database: id, topicPrefix: `${id}.` });
    await ensureTopics(admin, config.topics, benchPartitions);
    const topics = async (suffix: string) => {
      const names = topicNames(`${id}.${suffix}.`);
      await ensureTopics(admin, names, benchPartitions);
      return names;
    };
    return await run({ id, database, admin, config, topics });
  } finally {
    await deleteTopicsWithPrefix(admin, id).catch((error: unknown) => console.error(`[bench] could not delete topics ${id}*: ${String(error)}`));
    await admin.disconnect().catch(() => undefined);
    await database?.drop().catch((error: unknown) => console.error(`[bench] could not drop database ${id}: ${String(error)}`));
  }
}

/** The database's clock (epoch seconds, microseconds): durations that end at a row's timestamp start here too. */
export async function databaseNow(database: IsolatedDatabase): Promise<number> {
  const [[row]] = await database.pool.query<RowDataPacket[]>('SELECT UNIX_TIMESTAMP(NOW(6)) AS now');
  return Number(row!.now);
}

/** One number from a one-row, one-column query. */
export async function scalar(database: IsolatedDatabase, sql: string, params: unknown[] = []): Promise<number> {
  const [[row]] = await database.pool.query<RowDataPacket[]>(sql, params);
  return Number(Object.values(row ?? {})[0] ?? Number.NaN);
}

/** Generous upper bound for draining `count` items: never below 5 min, and ≥ 20 ms per item. */
export function drainTimeoutMs(count: number): number {
  return Math.max(300_000, count * 20);
}
