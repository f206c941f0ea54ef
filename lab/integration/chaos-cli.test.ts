/**
 * `npx lab chaos` on the running cluster (B-0332), as a person types it: the CLI in its own process.
 *
 * Question  Does `lab chaos broker kill 2` kill broker 2 so that `lab status` says so (and logs the fault),
 *           and does `lab chaos heal all` bring the cluster back to healthy?
 * Setup     The run's cluster (a `lab up` one is reused); the CLI as `node --import tsx/esm lab/cli.ts`.
 * Fault     broker-2 SIGKILLed through the CLI (the nemesis's kill, as suites do it).
 * Expected  status exits 1, lists broker-2 DOWN, the problem "broker-2 is not running" and the fault log
 *           entry; after heal all it exits 0 with no problem, and a Kafka admin sees 3 brokers again.
 * Numbers   `[chaos] …`: seconds per CLI call.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { kafka } from '../infra/clients.ts';
import { repoRoot } from '../infra/paths.ts';
import { waitFor } from '../infra/ports.ts';
import { labEnvironment } from '../infra/vitest.ts';
import { readFaultLog } from '../nemesis/chaos.ts';

const env = labEnvironment();
const report = (line: string) => console.log(`[chaos] ${line}`);

async function lab(...args: string[]): Promise<{ code: number; out: string }> {
  const started = Date.now();
  const run = promisify(execFile)(process.execPath, ['--import', 'tsx/esm', path.join(repoRoot, 'lab/cli.ts'), ...args], { cwd: repoRoot, env: { ...process.env, LAB_PROVIDER: env.descriptor.provider } });
  const result = await run.then(
    ({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? -1, out: `${error.stdout ?? ''}${error.stderr ?? ''}` }),
  );
  report(`lab ${args.join(' ')} → exit ${result.code} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

describe.runIf(env.processes)('lab chaos', () => {
  afterAll(async () => {
    if (!(await env.processes!.isRunning('broker-2'))) await env.processes!.restart('broker-2'); // heal what we broke, whatever failed
  });

  it('broker kill 2 → status shows it down with the fault logged → heal all → healthy', async () => {
    const before = readFaultLog().length;
    expect((await lab('status')).code).toBe(0);

    const kill = await lab('chaos', 'broker', 'kill', '2');
    expect(kill).toEqual({ code: 0, out: 'broker kill broker-2\n' });
    expect(await env.processes!.isRunning('broker-2')).toBe(false);
    const down = await lab('status');
    expect(down.code).toBe(1);
    expect(down.out).toMatch(/^DOWN\s+broker-2\b/m);
    expect(down.out).toContain('problem: broker-2 is not running');
    expect(down.out).toMatch(/fault log .*\n(.*\n)*\s+\S+Z\s+broker kill\s+broker-2/);
    expect(readFaultLog().slice(before)).toEqual([expect.objectContaining({ action: 'broker kill', target: 'broker-2' })]);

    const heal = await lab('chaos', 'heal', 'all');
    expect(heal.code).toBe(0);
    expect(heal.out).toContain('heal restart broker-2');
    const healthy = await lab('status');
    expect(healthy.out).not.toContain('problem:');
    expect(healthy.code).toBe(0);
    const admin = kafka(env, 'chaos-check').admin();
    await admin.connect();
    try {
      await waitFor('3 brokers registered', async () => (await admin.describeCluster()).brokers.length === 3, { timeoutMs: 60_000 });
    } finally {
      await admin.disconnect();
    }
  });

  it('refuses a wrong command line with exit 2 and the usage', async () => {
    const wrong = await lab('chaos', 'broker', 'explode', '2');
    expect(wrong.code).toBe(2);
    expect(wrong.out).toContain('usage: npx lab chaos');
  });
});
