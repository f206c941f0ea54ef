/**
 * Fresh, prefixed resources per suite, so suites never see each other's data and an external cluster
 * only ever loses what the lab created: a topic prefix, a database, a Redis key prefix.
 */
import type { Admin } from 'kafkajs';
import type { Redis } from 'ioredis';
import type mysql from 'mysql2/promise';
import type { LabEnvironment } from './environment.ts';
import { mysqlPool } from './clients.ts';

/** `<prefix>_<suite>_<6 random chars>`, lower case, safe as a topic, database and key prefix. */
export function isolationId(env: LabEnvironment, suite: string): string {
  const clean = suite.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
  const random = Buffer.from(crypto.getRandomValues(new Uint8Array(4))).toString('hex').slice(0, 6);
  return `${env.descriptor.namePrefix}_${clean}_${random}`;
}

export interface IsolatedDatabase {
  name: string;
  pool: mysql.Pool;
  drop(): Promise<void>;
}

/** Creates an empty database and a pool bound to it. */
export async function createDatabase(env: LabEnvironment, id: string): Promise<IsolatedDatabase> {
  if (!/^[a-z0-9_]+$/.test(id)) throw new Error(`database name must match [a-z0-9_]+, got '${id}'`);
  const admin = mysqlPool(env, undefined, { connectionLimit: 1 });
  try {
    // Identifiers cannot be bound as parameters; the name is validated above.
    await admin.query(`CREATE DATABASE \`${id}\` CHARACTER SET utf8mb4`);
  } finally {
    await admin.end();
  }
  const pool = mysqlPool(env, id);
  return {
    name: id,
    pool,
    drop: async () => {
      await pool.end().catch(() => undefined);
      const dropper = mysqlPool(env, undefined, { connectionLimit: 1 });
      try {
        await dropper.query(`DROP DATABASE IF EXISTS \`${id}\``);
      } finally {
        await dropper.end();
      }
    },
  };
}

/** Deletes every topic whose name starts with `prefix` (nothing else). */
export async function deleteTopicsWithPrefix(admin: Admin, prefix: string): Promise<string[]> {
  const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
  if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 });
  return topics;
}

/** Deletes every consumer group whose id starts with `prefix` (nothing else). */
export async function deleteGroupsWithPrefix(admin: Admin, prefix: string): Promise<string[]> {
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((groupId) => groupId.startsWith(prefix));
  if (groups.length) await admin.deleteGroups(groups);
  return groups;
}

/** Deletes a schema-registry subject (soft, then permanent); a subject that is not there is fine. */
export async function deleteSubject(env: LabEnvironment, subject: string): Promise<void> {
  const url = `${env.descriptor.schemaRegistry.url}/subjects/${encodeURIComponent(subject)}`;
  for (const suffix of ['', '?permanent=true']) await fetch(`${url}${suffix}`, { method: 'DELETE', signal: AbortSignal.timeout(10_000) }).then((r) => r.arrayBuffer()).catch(() => undefined);
}

/** Deletes every key under `prefix` with SCAN (never KEYS: it blocks a shared Redis). */
export async function deleteKeysWithPrefix(client: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) deleted += await client.del(...keys);
  } while (cursor !== '0');
  return deleted;
}
