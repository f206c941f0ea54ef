/** Redis from Debian's package, on its own port and data dir, no persistence (experiments flush it). */
import { runPaths } from '../paths.ts';
import type { ProcessSpec } from './supervisor.ts';

export const redisBinaries = ['redis-server', '/usr/bin/redis-server'];

export function redisSpec(server: string, port: number): ProcessSpec {
  return {
    name: 'redis',
    command: server,
    args: [
      '--bind', '127.0.0.1',
      '--port', String(port),
      '--dir', runPaths.data('redis'),
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
      '--protected-mode', 'yes',
      '--maxmemory', '512mb',
      '--maxmemory-policy', 'noeviction',
    ],
    logFile: runPaths.log('redis'),
  };
}
