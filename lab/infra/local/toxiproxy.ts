/** Toxiproxy server built from its Go module by `npm run setup`, listening on loopback only. */
import path from 'node:path';
import { installDirs, runPaths } from '../paths.ts';
import type { ProcessSpec } from './supervisor.ts';

/** Renamed at install so `ps` shows which toxiproxy is the lab's. */
export function toxiproxyBinary(): string {
  return path.join(installDirs.bin, 'lab-toxiproxy-server');
}

export function toxiproxySpec(port: number): ProcessSpec {
  return {
    name: 'toxiproxy',
    command: toxiproxyBinary(),
    args: ['-host', '127.0.0.1', '-port', String(port)],
    logFile: runPaths.log('toxiproxy'),
  };
}
