/**
 * `lab up` when a component dies during start-up (issue 7). Question: does the start fail at once with
 * the dead component's last log lines, stop everything it started, and keep the logs where it says?
 * (It used to wait out the registry's 90 s timeout for a registry that had died in its first second,
 * then delete .lab/run with the logs while printing that they stay.)
 *
 * Setup: a second, throw-away LAB_HOME sharing this checkout's installed Kafka, Apicurio, JMX agent and Toxiproxy,
 * and a stand-in "Java 21" (JAVA21_HOME) that reports version 99 and, as the registry, prints Quarkus'
 * port-conflict error and exits 1. Everything else (Toxiproxy, MariaDB, Redis, Kafka) is real, and
 * caught mid start-up. Needs no cluster of its own; lives under lab/ because it starts real processes.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDirs, labHome, repoRoot } from '../infra/paths.ts';
import { versions } from '../infra/versions.ts';

const conflict = 'ERROR [io.qua.run.Application] Port 9000 seems to be in use by another process. Quarkus may already be running';
let home: string;

function lab(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [path.join(repoRoot, 'tools', 'lab-cli', 'lab.mjs'), ...args], {
    cwd: repoRoot,
    // The stand-in JDK is a host binary that the local provider's command lines run; a container runs its image's JDK.
    env: { ...process.env, LAB_PROVIDER: 'local', LAB_HOME: home, JAVA21_HOME: path.join(home, 'fake-jdk') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })));
}

/** Pids of live processes whose command line names the throw-away LAB_HOME. */
function processesOf(dir: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .filter((pid) => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${dir}/`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-failed-start-'));
  for (const dir of [installDirs.kafka(versions.kafka), installDirs.apicurio(versions.apicurio), installDirs.jmxExporter]) {
    fs.mkdirSync(path.dirname(path.join(home, path.relative(labHome, dir))), { recursive: true });
    fs.symlinkSync(dir, path.join(home, path.relative(labHome, dir)));
  }
  fs.symlinkSync(installDirs.bin, path.join(home, 'bin'));
  const java = path.join(home, 'fake-jdk', 'bin', 'java');
  fs.mkdirSync(path.dirname(java), { recursive: true });
  fs.writeFileSync(
    java,
    `#!/bin/sh\nif [ "$1" = -version ]; then echo 'openjdk version "99" 2099-01-01' >&2; exit 0; fi\necho 'starting (stand-in registry)'\necho '${conflict}' >&2\nexit 1\n`,
    { mode: 0o755 },
  );
});

afterAll(async () => {
  await lab(['down', '--now']); // only if the test failed half-way: normally nothing is left to stop
  fs.rmSync(home, { recursive: true, force: true });
});

describe('lab up with a component that dies at once', () => {
  it('fails within seconds with its log tail, leaves no process, and keeps the logs where it says', async () => {
    const up = await lab(['up']);
    expect(up.code, `${up.stdout}\n${up.stderr}`).toBe(1);
    expect(up.stderr).toMatch(/registry exited during start-up \(code 1\); last lines of registry\.log:[\s\S]*Port 9000 seems to be in use/);
    // Far below the registry's 90 s readiness timeout (a loaded 2-core machine needs some seconds anyway).
    expect(up.ms).toBeLessThan(60_000);

    const kept = /logs kept in (\S+)/.exec(up.stderr)?.[1];
    expect(kept, up.stderr).toBeDefined();
    const keptDir = path.resolve(repoRoot, kept!);
    expect(keptDir.startsWith(path.join(home, 'logs'))).toBe(true);
    expect(fs.readFileSync(path.join(keptDir, 'registry.log'), 'utf8')).toContain(conflict);
    expect(fs.existsSync(path.join(keptDir, 'toxiproxy.log'))).toBe(true);
    expect(fs.existsSync(path.join(home, 'run'))).toBe(false);
    expect(processesOf(home)).toEqual([]);

    // `lab logs` finds the failed start's log while no cluster runs.
    const logs = await lab(['logs', 'registry']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain(conflict);
  });
});
