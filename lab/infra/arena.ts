/**
 * An arena: what one experiment arm (or one generated case) needs, fresh and isolated — a migrated
 * database, a topic set, and a failpoint log that the service processes it starts write their crashes
 * to — plus `dispose()`, which kills those processes and removes the topics and the database.
 *
 *   afterEach(disposeArenas);
 *   const arena = await createArena(env, 'e002_direct', 3);
 *   const command = await arena.start('command', { mode: 'direct' }, 'command.after-commit-before-produce=crash');
 *   expect(arena.crashes()).toHaveLength(1);
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureTopics } from '../../src/kafka/topics.ts';
import { kafka } from './clients.ts';
import type { LabEnvironment } from './environment.ts';
import { deleteTopicsWithPrefix, isolationId } from './isolation.ts';
import { commonConfig, createMigratedDatabase, startServiceProcess, type ServiceProcess } from './services.ts';

export type Arena = Awaited<ReturnType<typeof createArena>>;

const live: Array<() => Promise<void>> = [];

export async function createArena(env: LabEnvironment, name: string, partitions: number) {
  const id = isolationId(env, name);
  const database = await createMigratedDatabase(env, id);
  const admin = kafka(env, `${id}-admin`).admin();
  await admin.connect();
  const config = commonConfig(env, { database: id, topicPrefix: `${id}.` });
  await ensureTopics(admin, config.topics, partitions);
  const failpointLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), `${id}-`)), 'crashes.jsonl');
  const processes: ServiceProcess[] = [];
  live.push(async () => {
    for (const p of processes) await p.kill().catch(() => undefined);
    await deleteTopicsWithPrefix(admin, id);
    await admin.disconnect();
    await database.drop();
  });
  return {
    id,
    database,
    config,
    /** The crash records the dying processes wrote, in order. */
    crashes: (): Array<{ failpoint: string }> =>
      fs.existsSync(failpointLog)
        ? fs.readFileSync(failpointLog, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { failpoint: string })
        : [],
    /** A service as its own OS process, failpoints armed from the start (LAB_FAILPOINTS syntax). */
    start: async (service: string, extra: object, failpoints?: string) => {
      const p = await startServiceProcess(service, { ...config, ...extra }, { failpointLog, ...(failpoints ? { failpoints } : {}) });
      processes.push(p);
      return p;
    },
  };
}

/** Tears down every arena created since the last call, newest first (use as `afterEach(disposeArenas)`). */
export async function disposeArenas(): Promise<void> {
  for (const dispose of live.splice(0).reverse()) await dispose().catch(() => undefined);
}
