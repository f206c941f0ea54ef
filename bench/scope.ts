/**
 * One repetition's own world: a fresh migrated database and fresh topics under one isolation id, removed
 * in `finally` whatever happened. A repetition never sees the rows, offsets or consumer groups of the one
 * before it, so repetition 3 does not drain a bigger table or a warmer topic than repetition 1.
 */
import type { Admin } from 'kafkajs';
import type { RowDataPacket } from 'mysql2';
import type { CommonConfig, EventEnvelope, TopicNames } from '../src/contract.ts';
import { createArena } from '../lab/infra/arena.ts';
import type { LabEnvironment } from '../lab/infra/environment.ts';
import type { IsolatedDatabase } from '../lab/infra/isolation.ts';
import { repetitions } from './progress.ts';
import type { BenchSettings } from './settings.ts';
import { benchAccounts, eventHistory } from './workload.ts';

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
  // The experiments' arena: removed (topics, groups, subjects, database) when the repetition ends, whatever happened.
  await using arena = await createArena(env, name, benchPartitions);
  return await run({ ...arena, topics: async (suffix) => (await arena.topicSet(suffix)).topics });
}

/**
 * `settings.repeats` repetitions of an A/B comparison, each in a fresh scope with a fresh history of
 * `settings.records` events; A runs first on even repetitions (`inTurn(aFirst, a, b)`).
 */
export function repeatInScopes<T>(env: LabEnvironment, settings: BenchSettings, what: string, name: string, measure: (scope: Scope, events: EventEnvelope[], aFirst: boolean) => Promise<T>): Promise<T[]> {
  const accounts = benchAccounts(settings.accounts);
  return repetitions(settings.repeats, what, (_, aFirst) => withScope(env, name, (scope) => measure(scope, eventHistory(settings.records, accounts), aFirst)));
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
