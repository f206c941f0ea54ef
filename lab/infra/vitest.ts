/** For suites: the run's environment, connected (`const env = labEnvironment();`), and a file's arena. */
import { afterAll, beforeAll, inject } from 'vitest';
import { createArena, type Arena } from './arena.ts';
import { connectEnvironment } from './connect.ts';
import type { LabEnvironment } from './environment.ts';

export function labEnvironment(): LabEnvironment {
  return connectEnvironment(inject('labEnvironment'));
}

/**
 * One arena for a whole test file (the integration suites), the same the experiments take per arm:
 * filled in beforeAll, disposed in afterAll after the file's own after-hooks (Vitest runs them newest
 * first). Use it in hooks and tests only: it is empty until beforeAll ran.
 *
 *   const arena = fileArena(env, 'command');
 *   beforeAll(async () => void arena.own(await startService('command', { ...arena.config, mode: 'outbox' })));
 */
export function fileArena(env: LabEnvironment, name: string, partitions?: number, options?: Parameters<typeof createArena>[3]): Arena {
  const arena = {} as Arena;
  beforeAll(async () => void Object.assign(arena, await createArena(env, name, partitions, options)));
  afterAll(async () => arena.dispose?.());
  return arena;
}
