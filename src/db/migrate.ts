/**
 * Applies sql/NNN.do.*.sql in order with postgrator (versioned, md5-checksummed: an edited migration
 * that already ran stops the run instead of silently diverging).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import Postgrator from 'postgrator';
import type { MysqlConfig } from '../config.ts';

export const migrationsDir = fileURLToPath(new URL('../../sql', import.meta.url));

export async function migrate(config: MysqlConfig): Promise<string[]> {
  const connection = await mysql.createConnection({ ...config, multipleStatements: true });
  try {
    const postgrator = new Postgrator({
      migrationPattern: path.join(migrationsDir, '*.do.*.sql'),
      driver: 'mysql',
      database: config.database,
      schemaTable: 'schema_version',
      validateChecksums: true,
      newline: 'LF',
      execQuery: async (query: string) => {
        const [rows] = await connection.query(query);
        return { rows: Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [] };
      },
    });
    const applied = await postgrator.migrate();
    return applied.map((migration) => migration.filename);
  } finally {
    await connection.end();
  }
}
