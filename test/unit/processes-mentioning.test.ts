import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { processesMentioning } from '../../lab/infra/local/cluster.ts';

describe('processesMentioning', () => {
  it('finds a process by a path on its command line, and not this process', async () => {
    const marker = `/tmp/lab-run-dir-${process.pid}-${Date.now()}`;
    const tagged = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', marker], { stdio: 'ignore' });
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', '/tmp/elsewhere'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(processesMentioning(marker)).toEqual([tagged.pid]);
    } finally {
      tagged.kill('SIGKILL');
      other.kill('SIGKILL');
    }
  });
});
