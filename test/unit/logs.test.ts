import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { keepLogs, latestKeptLogs, tailLines } from '../../lab/infra/local/logs.ts';

const dirs: string[] = [];
function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-logs-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('run logs', () => {
  it('tailLines returns the last lines only, and nothing for a missing file', () => {
    const file = path.join(tempDir(), 'x.log');
    fs.writeFileSync(file, `${Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n')}\n`);
    expect(tailLines(file, 3)).toBe('line 97\nline 98\nline 99');
    expect(tailLines(path.join(path.dirname(file), 'missing.log'))).toBe('');
  });

  it('keepLogs moves the logs of a failed start out of the run dir and keeps only the newest attempts', async () => {
    const root = tempDir();
    const kept = path.join(root, 'logs');
    const paths: string[] = [];
    for (let attempt = 0; attempt < 12; attempt += 1) {
      const logs = path.join(root, 'run', 'logs');
      fs.mkdirSync(logs, { recursive: true });
      fs.writeFileSync(path.join(logs, 'registry.log'), `attempt ${attempt}\n`);
      const where = keepLogs(logs, kept)!;
      paths.push(where);
      expect(fs.existsSync(logs)).toBe(false);
      expect(fs.readFileSync(path.join(where, 'registry.log'), 'utf8')).toBe(`attempt ${attempt}\n`);
      await new Promise((resolve) => setTimeout(resolve, 2)); // distinct millisecond names
    }
    expect(fs.readdirSync(kept)).toHaveLength(10);
    expect(fs.existsSync(paths[0]!)).toBe(false);
    expect(latestKeptLogs(kept)).toBe(paths.at(-1));
    expect(keepLogs(path.join(root, 'run', 'logs'), kept)).toBeUndefined();
  });
});
