/**
 * `npx lab schema …` against the real registry, run as a CI would run it (its own process, exit codes):
 * 1 with the breaking field named, 0 for a compatible change, 2 when the registry cannot be reached; the
 * registry's own verdict agrees with the gate's on both changes.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteSubject, isolationId } from '../infra/isolation.ts';
import { freePorts } from '../infra/ports.ts';
import { repoRoot } from '../infra/paths.ts';
import { labEnvironment } from '../infra/vitest.ts';

const env = labEnvironment();
const subject = `${isolationId(env, 'gate')}.transfers-value`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-schema-gate-'));
const schema = (fields: object[]) => {
  const file = path.join(dir, `v${fs.readdirSync(dir).length + 1}.avsc`);
  fs.writeFileSync(file, JSON.stringify({ type: 'record', name: 'Transfer', namespace: 'lab.wallet', fields }));
  return file;
};
const v1 = schema([{ name: 'id', type: 'string' }, { name: 'amount', type: 'int' }]);
const breaking = schema([{ name: 'id', type: 'string' }, { name: 'amount', type: 'int' }, { name: 'memo', type: 'string' }]);
const compatible = schema([{ name: 'id', type: 'string' }, { name: 'amount', type: 'long' }, { name: 'memo', type: 'string', default: '' }]);

/** The CLI in its own process, as a CI step: exit code and output. */
async function gate(...args: string[]): Promise<{ code: number; out: string }> {
  const run = promisify(execFile)(process.execPath, ['--import', 'tsx/esm', path.join(repoRoot, 'lab/cli.ts'), 'schema', ...args], { cwd: repoRoot, env: { ...process.env, LAB_SCHEMA_REGISTRY_URL: env.descriptor.schemaRegistry.url } });
  return run.then(({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }), (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, out: error.stdout + error.stderr }));
}

afterAll(async () => {
  await deleteSubject(env, subject);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('lab schema (the deploy gate)', () => {
  it('registers version 1, then fails a breaking change naming the field and why, and passes a compatible one', async () => {
    expect(await gate('register', `${subject}=${v1}`)).toMatchObject({ code: 0, out: expect.stringContaining('registered') });
    const broken = await gate('check', `${subject}=${breaking}`);
    expect(broken.code).toBe(1);
    expect(broken.out).toContain('breaks BACKWARD');
    expect(broken.out).toContain('Transfer.memo: field memo has no default');
    expect(broken.out).toContain('registry says incompatible'); // Apicurio's own check agrees
    const fine = await gate('check', `${subject}=${compatible}`);
    expect(fine).toMatchObject({ code: 0, out: expect.stringContaining('registry says compatible') });
    // The registry enforces what the gate predicted: the breaking schema is refused at registration.
    expect(await gate('register', `${subject}=${breaking}`)).toMatchObject({ code: 1, out: expect.stringContaining('409') });
  }, 120_000);

  it('exits 2, never 0, when the registry cannot be reached', async () => {
    const [closed] = await freePorts(1);
    const unreachable = await gate('check', `${subject}=${compatible}`, '--registry', `http://127.0.0.1:${closed}`);
    expect(unreachable.code).toBe(2);
    expect(unreachable.out).toContain('unreachable');
  }, 60_000);
});
